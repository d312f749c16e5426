"""mlpipe: a TFX pipeline package. Install with the pinned set: `make venv` (see README)."""

from setuptools import find_packages, setup

setup(
    name="mlpipe",
    version="0.1.0",
    description="A production TFX pipeline: validate, transform, train, evaluate, push, serve.",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=["mlpipe", "mlpipe.*"]),
    package_data={"mlpipe": ["configs/*.yaml", "schema/*/*.pbtxt"]},
    # Loose bounds for `pip install .`; the exact, tested set is requirements.lock.
    install_requires=[
        "tfx==1.16.0",
        # 1.4 imports Keras 3 and refuses the tf_keras models this project trains (see
        # requirements.lock).
        "keras-tuner>=1.3,<1.4",
        "dill",
        "google-crc32c",  # TFRecord checksums of the CSV ExampleGen executor
        "pydantic>=2,<3",
        "PyYAML",
        "scipy",  # the chance level of a drift distance (mlpipe.core.drift)
        "fastapi",
        "uvicorn",
        "httptools",
        "uvloop",
    ],
    entry_points={"console_scripts": ["mlpipe=mlpipe.cli:run"]},
)

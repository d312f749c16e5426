"""The `model_card:` section: what a model card says that no artifact can, written by people.

The ModelCard step (mlpipe/components/model_card) writes a card beside every pushed version; its
datasets, metrics, thresholds, fairness results and feature attributions come from the run's
artifacts, and the rest from here: name, overview, owners, intended use, users, limitations,
tradeoffs, ethical considerations with their mitigations, references. Field names follow the
Model Card Toolkit's schema (model_details / considerations). Every field has a default, so a
problem config without the section still gets a card (its unstated fields say so).
"""

from __future__ import annotations

from typing import List, Optional

from pydantic import Field

from mlpipe.config.base import Strict


class Owner(Strict):
    name: str = Field(min_length=1, description="A person or team answerable for the model.")
    contact: str = Field("", description="How to reach them (e-mail, channel, ...).")


class EthicalConsideration(Strict):
    name: str = Field(min_length=1, description="The risk, e.g. 'location as a proxy for "
                                                "neighbourhood demographics'.")
    mitigation: str = Field("", description="What is done about it (the card says when nothing "
                                            "is stated).")


class ModelCardConfig(Strict):
    name: Optional[str] = Field(None, min_length=1,
                                description="The model's name on the card (default: the "
                                            "problem's name).")
    overview: str = Field("", description="What the model does, in a sentence or two (default: "
                                          "one generated from the label and the features).")
    owners: List[Owner] = Field(default_factory=list)
    intended_use: str = Field("", description="The use the model was built and evaluated for.")
    users: List[str] = Field(default_factory=list, description="Who is meant to use it.")
    limitations: List[str] = Field(default_factory=list,
                                   description="Known limits; the card adds the slices too "
                                               "small to judge.")
    tradeoffs: List[str] = Field(default_factory=list)
    ethical_considerations: List[EthicalConsideration] = Field(default_factory=list)
    references: List[str] = Field(default_factory=list,
                                  description="Documents, tickets, papers (shown as text).")

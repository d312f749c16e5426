"""Evaluation reports that open anywhere: terminal, one self-contained HTML file, JSON."""

from .evaluate import EvaluationResult, ladder_evaluate, ladders_run

__all__ = ["EvaluationResult", "ladder_evaluate", "ladders_run"]

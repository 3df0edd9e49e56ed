from collections_app.engine.evaluate import (
    EvaluationResult,
    ladder_evaluate,
    ladders_evaluate_many,
    ladders_run,
)

__all__ = ["EvaluationResult", "ladder_evaluate", "ladders_evaluate_many", "ladders_run"]

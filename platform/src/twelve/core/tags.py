"""Asset tags by which the platform's jobs select a project's assets, whatever their names.

Every block tags its assets with the role they play in the continuous-training loop, so the jobs
(``twelve.core.jobs``, ``twelve.monitoring.component``) are the same selections in every project:
``golden_path`` is everything but the arrivals and the checks; ``monthly_arrival`` the arrivals.
"""

ROLE = "twelve/role"
# A month of raw data arriving, and what documents it (partitioned like the data).
ARRIVAL = "arrival"
# The checks of an arrived month against the champion (drift, performance).
MONTHLY_CHECK = "monthly_check"
# The served traffic judged against the training data (no upstream asset: run on a schedule).
SERVING_WINDOW = "serving_window"
# The training set: what retraining starts from.
TRAINING_SET = "training_set"
# The training block's assets, one of each per pipeline (PIPELINE names the pipeline): the
# retraining sensor configures every pipeline of a project by these roles.
HOLDOUT = "holdout"
TRAINED_MODEL = "trained_model"
MODEL_EVALUATION = "model_evaluation"
MODEL_ALIAS = "model_alias"
# The deployable artifact of the champion or challenger.
BENTO = "bento"
PIPELINE = "twelve/pipeline"


def role(name: str) -> dict[str, str]:
    """The tags of an asset playing ``name``."""
    return {ROLE: name}

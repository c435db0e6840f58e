"""Scores, rules and models arrive in later issues; the demo generator's ground truth lives here now."""

from django.db import models

from revops.models import BaseModel


class DemoGroundTruth(BaseModel):
    """The demo generator's true propensity of an account, as of a date.

    ``propensity`` is the exact probability, under the generator's process, that the account opens
    an opportunity within ``horizon_days`` after ``as_of``: the best any model could predict.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="ground_truth")
    as_of = models.DateField()
    horizon_days = models.PositiveSmallIntegerField(default=90)
    propensity = models.FloatField()
    fit = models.FloatField(help_text="The generator's latent ICP fit of the account, 0 to 1.")
    in_market = models.BooleanField(default=False, help_text="Whether the account was in a buying cycle.")

    class Meta:
        ordering = ["account", "as_of"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "as_of", "horizon_days"], name="demo_ground_truth_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.as_of}: {self.propensity:.3f}"

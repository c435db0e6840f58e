"""Choices of the desk's pages and API."""

from django.db import models


class Scope(models.TextChoices):
    MINE = "mine", "Mine"
    TEAM = "team", "My team's"

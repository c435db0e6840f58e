from django.db import models


class CampaignGoal(models.TextChoices):
    AWARENESS = "awareness", "Awareness / engagement"
    PIPELINE = "pipeline", "Pipeline creation"
    PARTNER = "partner", "Partner co-selling"
    WIN_RATE = "win_rate", "Enterprise win rate"
    COMPETITIVE = "competitive", "Competitive displacement"
    VELOCITY = "velocity", "Deal velocity"
    NEW_INDUSTRY = "new_industry", "New industry"
    EXPANSION = "expansion", "Expansion / upsell"

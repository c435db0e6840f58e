from django.db import models


class Seniority(models.TextChoices):
    C_LEVEL = "c_level", "C-level"
    VP = "vp", "VP"
    DIRECTOR = "director", "Director"
    MANAGER = "manager", "Manager"
    INDIVIDUAL = "individual", "Individual contributor"
    ENTRY = "entry", "Entry level / student"
    UNKNOWN = "unknown", "Unknown"


class Department(models.TextChoices):
    EXECUTIVE = "executive", "Executive"
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    IT = "it", "IT"
    ENGINEERING = "engineering", "Engineering"
    FINANCE = "finance", "Finance"
    OPERATIONS = "operations", "Operations"
    HR = "hr", "HR"
    PROCUREMENT = "procurement", "Procurement"
    OTHER = "other", "Other"


class LifecycleStage(models.TextChoices):
    LEAD = "lead", "Lead"
    MQL = "mql", "MQL"
    SAL = "sal", "SAL"
    SQL = "sql", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    RECYCLED = "recycled", "Recycled"
    DISQUALIFIED = "disqualified", "Disqualified"


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    CHAMPION = "champion", "Champion"
    INFLUENCER = "influencer", "Influencer"
    USER = "user", "User"
    GATEKEEPER = "gatekeeper", "Gatekeeper"
    FINANCE = "finance", "Economic buyer"


class OpportunityStage(models.TextChoices):
    PROSPECTING = "prospecting", "Prospecting"
    ENGAGING = "engaging", "Engaging"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    WON = "won", "Won"
    LOST = "lost", "Lost"


OPEN_STAGES = (
    OpportunityStage.PROSPECTING,
    OpportunityStage.ENGAGING,
    OpportunityStage.PROPOSAL,
    OpportunityStage.NEGOTIATION,
)
CLOSED_STAGES = (OpportunityStage.WON, OpportunityStage.LOST)


class EventType(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    FORM_FILL = "form_fill", "Form fill"
    DEMO_REQUEST = "demo_request", "Demo request"
    FREE_TRIAL = "free_trial", "Free trial"
    WEBINAR = "webinar", "Webinar"
    EMAIL_OPEN = "email_open", "E-mail open"
    EMAIL_CLICK = "email_click", "E-mail click"
    CONTENT_DOWNLOAD = "content_download", "Content download"
    AD_CLICK = "ad_click", "Ad click"
    MEETING = "meeting", "Meeting"
    INTENT = "intent", "Third-party intent"


class EventSource(models.TextChoices):
    FIRST_PARTY = "first_party", "First party"
    THIRD_PARTY = "third_party", "Third party"


class CampaignGoal(models.TextChoices):
    AWARENESS = "awareness", "Awareness / engagement"
    PIPELINE = "pipeline", "Pipeline creation"
    PARTNER = "partner", "Partner co-selling"
    WIN_RATE = "win_rate", "Enterprise win rate"
    COMPETITIVE = "competitive", "Competitive displacement"
    VELOCITY = "velocity", "Deal velocity"
    NEW_INDUSTRY = "new_industry", "New industry"
    EXPANSION = "expansion", "Expansion / upsell"


class DealStatus(models.TextChoices):
    OPEN = "open", "Open opportunity"
    CUSTOMER = "customer", "Customer"
    NEITHER = "neither", "Neither"

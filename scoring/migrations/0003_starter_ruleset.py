"""Version 1 of the rules, published, so that a fresh install scores from the start.

Marketing and sales are expected to revise it; it is an ordinary version (rollback can return to it).
"""

from django.db import migrations

FIT = [
    ("Decision-maker seniority", "seniority", "in", ["c_level", "vp", "director"], 15),
    ("Manager seniority", "seniority", "equals", "manager", 8),
    ("Buying department", "department", "in", ["marketing", "sales", "operations", "executive", "it"], 10),
    ("Company size 200 to 10,000", "account.employee_count", "range", {"min": 200, "max": 10000}, 15),
    ("Very small company", "account.employee_count", "range", {"min": 0, "max": 49}, -10),
    (
        "ICP industry",
        "account.industry",
        "in",
        ["Software", "Fintech", "Health tech", "E-commerce", "Professional services"],
        10,
    ),
    ("Uses a CRM we integrate with", "account.technologies", "in", ["Salesforce Sales Cloud", "HubSpot CRM"], 5),
]
# (name, event type, url pattern, points, repeatable, cap, half-life days, window days)
ENGAGEMENT = [
    ("Pricing page", "page_view", r"^/pricing", 10, True, 30, 14, 90),
    ("Comparison pages and guides", "", r"^/(compare/|resources/comparison-guide)", 8, True, 24, 21, 90),
    ("Case studies", "page_view", r"^/customers/case-study", 4, True, 12, 30, 90),
    ("ROI calculator", "page_view", r"^/resources/roi-calculator", 6, False, None, 21, 90),
    ("Webinar attended", "webinar", "", 8, True, 16, 30, 120),
    ("Content download", "content_download", "", 5, True, 15, 30, 120),
    ("E-mail click", "email_click", "", 2, True, 10, 14, 60),
    ("Contact-sales form", "form_fill", r"^/contact-sales", 20, False, None, 30, 90),
    ("Meeting held", "meeting", "", 15, False, None, None, 60),
    ("Demo request", "demo_request", "", 30, False, None, None, 90),
    ("Free trial", "free_trial", "", 25, False, None, None, 90),
    ("Third-party intent", "intent", "", 2, True, 10, 14, 30),
    ("Careers pages (job seekers)", "", r"^/careers", -10, True, 30, None, 90),
]

TITLES = (
    r"\b(student|intern|internship|mba candidate|job seeker|looking for (a )?(new )?(job|work|opportunit\w*)"
    r"|unemployed|graduate)\b"
)


def create(apps, schema_editor):
    Ruleset = apps.get_model("scoring", "Ruleset")
    Rule = apps.get_model("scoring", "Rule")
    RulesetHistory = apps.get_model("scoring", "RulesetHistory")
    if Ruleset.objects.exists():
        return
    from django.utils import timezone

    ruleset = Ruleset.objects.create(
        number=1,
        name="Starter rules",
        description="Shipped with the platform: edit a draft of it together, then publish.",
        status="published",
        published_at=timezone.now(),
        required_fields=["email", "first_name", "last_name", "account"],
        # Engagement from one person is modest even in a buying cycle (the team shares the research):
        # 15 points is about one pricing visit and a comparison guide in the last fortnight.
        mql_fit_min=20,
        mql_engagement_min=15,
        fit_grade_a_min=40,
        fit_grade_b_min=20,
        engagement_grade_1_min=40,
        engagement_grade_2_min=15,
        excluded_title_pattern=TITLES,
        excluded_industries=["Government", "Non-profit"],
        fast_track_event_types=["demo_request", "free_trial"],
        sql_checklist=[
            "One-to-one conversation held",
            "Role confirmed (decision maker or strong influencer)",
            "Company size fits the ICP",
            "Buying intent and timeline confirmed",
        ],
    )
    position = 0
    for name, field, operator, value, points in FIT:
        position += 1
        Rule.objects.create(
            ruleset=ruleset, position=position, name=name, kind="fit", field=field, operator=operator,
            value=value, points=points,
        )  # fmt: skip
    for name, event_type, pattern, points, repeatable, cap, half_life, window in ENGAGEMENT:
        position += 1
        Rule.objects.create(
            ruleset=ruleset, position=position, name=name, kind="engagement", event_type=event_type,
            url_pattern=pattern, points=points, repeatable=repeatable, cap=cap, half_life_days=half_life,
            window_days=window,
        )  # fmt: skip
    RulesetHistory.objects.create(ruleset=ruleset, action="published", detail={"note": "shipped default"})


class Migration(migrations.Migration):
    dependencies = [("scoring", "0002_rules_lifecycle")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

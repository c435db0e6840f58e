"""Navigation for the base layout: one menu, entries shown by permission, and the user's teams."""

from django.utils.functional import SimpleLazyObject

from .models import Membership

NAVIGATION = [
    # (label, url name, permission needed)
    ("Dashboard", "home", None),
    ("My queue", "desk:my_queue", "accounts.view_contact"),
    ("My accounts", "desk:my_accounts", "accounts.view_account"),
    ("Accounts", "accounts:account_list", "accounts.view_account"),
    ("Contacts", "accounts:contact_list", "accounts.view_contact"),
    ("Personas", "accounts:persona_list", "accounts.view_persona"),
    ("Opportunities", "accounts:opportunity_list", "accounts.view_opportunity"),
    ("Campaigns", "campaigns:campaign_list", "accounts.view_campaign"),
    ("Segments", "campaigns:segment_list", "campaigns.view_segment"),
    ("Plans", "plans:plan_list", "plans.view_revenueplan"),
    ("Playbooks", "playbooks:playbook_list", "playbooks.view_playbook"),
    ("Import", "imports:import_start", "revops.add_jobrun"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_memberships": []}
    items = [
        {"label": label, "url_name": url_name}
        for label, url_name, perm in NAVIGATION
        if perm is None or user.has_perm(perm)
    ]
    # Lazy: one query, only on pages that render the navbar.
    memberships = SimpleLazyObject(
        lambda: list(Membership.objects.filter(user=user).select_related("team").order_by("team__name"))
    )
    return {"nav_items": items, "user_memberships": memberships}

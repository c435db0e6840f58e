"""What each role may do with rules, lifecycle, scores, models, policies, notifications and webhooks
(registered by ``ScoringConfig.ready``)."""

from revops.permissions import grants_register, model_perms

# What everyone reads.
READ = [
    "ruleset", "rule", "rulesetcomment", "rulesetapproval", "rulesethistory", "contactscore",
    "contactscorehistory", "accountrulescore", "lifecycletransition", "notification",
    "webhookendpoint", "webhookdelivery", "whatifrun",
    # learned scores, their models and the qualification policy versions (with their sign-off)
    "scoringmodel", "qualificationpolicy", "policyapproval", "policycomment", "policyhistory",
    "accountmodelscore", "accountmodelscorehistory", "buyingstagetransition", "contactmodelscore",
]  # fmt: skip
# What members edit: drafts, their comments, sales decisions, what-if runs, policy drafts and comments.
MEMBER_EDIT = [
    "ruleset", "rule", "rulesetcomment", "lifecycletransition", "whatifrun", "qualificationpolicy",
    "policycomment",
]  # fmt: skip


def grants() -> None:
    grants_register(
        viewer=model_perms("scoring", READ, ["view"]),
        member=model_perms("scoring", MEMBER_EDIT, ["add", "change"]) | {"scoring.change_notification"},
        # Leads approve and publish versions (the services also check marketing/sales and four eyes),
        # policies too (``scoring.policy``: marketing and sales leads sign off; they and revenue
        # operations publish), and manage their team's webhooks.
        lead={"scoring.approve_ruleset", "scoring.publish_ruleset", "scoring.delete_rule"}
        | {"scoring.approve_qualificationpolicy", "scoring.publish_qualificationpolicy"}
        | model_perms("scoring", ["webhookendpoint"], ["add", "change", "delete"]),
        revops_admin={"scoring.rescore_contacts"}
        # The scoring outbox: read its parked rows (the error in words) and replay them.
        | {"scoring.view_scoringoutbox", "scoring.change_scoringoutbox"}
        # Learned scores: rescore and retrain, promote or roll back models, own the policy versions.
        | {"scoring.rescore_accounts", "scoring.promote_scoringmodel"}
        | model_perms("scoring", ["qualificationpolicy"], ["add", "change", "delete"]),
    )

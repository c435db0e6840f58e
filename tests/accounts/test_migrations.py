"""Channels and campaigns moved from the campaigns app into accounts (accounts.0006, scoring.0013,
campaigns.0004): a database at the old head keeps its rows, foreign keys, permissions, grants and history."""

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Campaign, Channel, EngagementEvent, Opportunity
from revops.models import ChangeRecord
from revops.permissions import GROUP_LEAD, GROUP_MEMBER, GROUP_REVOPS, GROUP_VIEWER, role_permissions
from scoring.models import Rule

# Unapplying accounts.0006 unapplies what depends on it (scoring.0013, campaigns.0004): the old head.
OLD_HEAD = [("accounts", "0005_contact_email_unicode")]


def _migrate(targets):
    """Migrate the test database to ``targets``; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()  # what is applied now
    ContentType.objects.clear_cache()
    return executor.loader.project_state(list(executor.loader.applied_migrations)).apps


def _migrate_to_head():
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.fixture
def old_head(transactional_db):
    """The database at the old head (Channel and Campaign in the campaigns app); back at the head after."""
    old = _migrate(OLD_HEAD)
    yield old
    _migrate_to_head()


def _seed(old) -> dict:
    """At the old head: a channel and a campaign, and a row of everything that points at them."""
    ContentTypeOld = old.get_model("contenttypes", "ContentType")
    PermissionOld = old.get_model("auth", "Permission")
    team = old.get_model("revops", "Team").objects.create(name="Mktg", kind="marketing")
    channel = old.get_model("campaigns", "Channel").objects.create(name="Podcasts", slug="podcasts")
    campaign = old.get_model("campaigns", "Campaign").objects.create(
        name="Spring podcast",
        channel=channel,
        cost=1200,
        owner_team=team,
        start_date=datetime.date(2026, 3, 1),
    )
    account = old.get_model("accounts", "Account").objects.create(name="Acme", domain="acme.example")
    event = old.get_model("accounts", "EngagementEvent").objects.create(
        message_id="m-1", event_type="webinar", occurred_at=timezone.now(), account=account, campaign=campaign
    )
    opportunity = old.get_model("accounts", "Opportunity").objects.create(
        account=account, name="Acme deal", channel=channel, source_campaign=campaign
    )
    ruleset = old.get_model("scoring", "Ruleset").objects.create(number=900, name="Moved")
    rule = old.get_model("scoring", "Rule").objects.create(
        ruleset=ruleset, name="Podcast", kind="engagement", event_type="webinar", campaign=campaign, points=5
    )
    ct_campaign = ContentTypeOld.objects.get(app_label="campaigns", model="campaign")
    ct_channel = ContentTypeOld.objects.get(app_label="campaigns", model="channel")
    change_campaign = PermissionOld.objects.get(content_type=ct_campaign, codename="change_campaign")
    change_channel = PermissionOld.objects.get(content_type=ct_channel, codename="change_channel")
    group = old.get_model("auth", "Group").objects.create(name="Campaign editors")
    group.permissions.add(change_campaign)
    user = old.get_model("auth", "User").objects.create(username="editor")
    user.user_permissions.add(change_channel)
    record = old.get_model("revops", "ChangeRecord").objects.create(
        action="update", object_type=ct_campaign, object_id=str(campaign.pk)
    )
    entry = old.get_model("admin", "LogEntry").objects.create(
        user=user, content_type=ct_channel, object_id=str(channel.pk), object_repr="Podcasts", action_flag=2
    )
    return {
        "channel": channel.pk,
        "campaign": campaign.pk,
        "event": event.pk,
        "opportunity": opportunity.pk,
        "rule": rule.pk,
        "ct_campaign": ct_campaign.pk,
        "ct_channel": ct_channel.pk,
        "change_campaign": change_campaign.pk,
        "change_channel": change_channel.pk,
        "group": group.pk,
        "user": user.pk,
        "record": record.pk,
        "entry": entry.pk,
    }


def test_rows_foreign_keys_permissions_grants_and_history_survive_the_move(old_head):
    ids = _seed(old_head)
    _migrate_to_head()

    channel, campaign = Channel.objects.get(pk=ids["channel"]), Campaign.objects.get(pk=ids["campaign"])
    assert (channel.slug, campaign.name, campaign.channel, campaign.owner_team.name) == (
        "podcasts",
        "Spring podcast",
        channel,
        "Mktg",
    )
    assert Channel._meta.db_table == "campaigns_channel" and Campaign._meta.db_table == "campaigns_campaign"
    assert EngagementEvent.objects.get(pk=ids["event"]).campaign == campaign
    opportunity = Opportunity.objects.get(pk=ids["opportunity"])
    assert (opportunity.channel, opportunity.source_campaign) == (channel, campaign)
    assert Rule.objects.get(pk=ids["rule"]).campaign == campaign

    # The same content type rows, relabelled: every id that pointed at them still does.
    assert ContentType.objects.get_for_model(Campaign).pk == ids["ct_campaign"]
    assert ContentType.objects.get_for_model(Channel).pk == ids["ct_channel"]
    assert not ContentType.objects.filter(app_label="campaigns", model__in=["campaign", "channel"]).exists()
    assert Permission.objects.get(pk=ids["change_campaign"]).content_type.app_label == "accounts"
    user = User.objects.get(pk=ids["user"])
    assert user.has_perm("accounts.change_channel") and not user.has_perm("campaigns.change_channel")
    assert list(Group.objects.get(pk=ids["group"]).permissions.values_list("pk", flat=True)) == [
        ids["change_campaign"]
    ]
    assert ChangeRecord.objects.get(pk=ids["record"]).object_type.model_class() is Campaign
    assert LogEntry.objects.get(pk=ids["entry"]).get_edited_object() == Channel.objects.get(pk=ids["channel"])


def test_content_types_already_under_accounts_are_merged(old_head):
    """A database where the new code already made ``accounts.campaign`` (with a permission a group holds):
    the old content type is merged into it, its grants and audit rows carried over."""
    ids = _seed(old_head)
    ContentTypeOld = old_head.get_model("contenttypes", "ContentType")
    PermissionOld = old_head.get_model("auth", "Permission")
    twin_type = ContentTypeOld.objects.create(app_label="accounts", model="campaign")
    twin_view = PermissionOld.objects.create(
        content_type=twin_type, codename="view_campaign", name="Can view"
    )
    old_head.get_model("auth", "Group").objects.get(pk=ids["group"]).permissions.add(twin_view)
    _migrate_to_head()

    assert ContentType.objects.get_for_model(Campaign).pk == twin_type.pk
    assert not ContentType.objects.filter(pk=ids["ct_campaign"]).exists()
    grants = Group.objects.get(pk=ids["group"]).permissions.all()
    assert sorted(p.codename for p in grants) == ["change_campaign", "view_campaign"]
    assert {p.content_type_id for p in grants} == {twin_type.pk}
    assert Permission.objects.filter(content_type_id=twin_type.pk).count() == 4  # add, change, delete, view
    assert ChangeRecord.objects.get(pk=ids["record"]).object_type_id == twin_type.pk
    # The channel had no twin: relabelled as usual.
    assert ContentType.objects.get_for_model(Channel).pk == ids["ct_channel"]


def test_roles_keep_what_they_may_do_with_channels_and_campaigns():
    """As before the move (then under ``campaigns.``): members run campaigns, leads also delete them and
    add or rename channels, revenue operations deletes channels."""
    roles = role_permissions()

    def held(group):
        return {p for p in roles[group] if p.endswith(("_channel", "_campaign"))}

    assert held(GROUP_VIEWER) == {"accounts.view_channel", "accounts.view_campaign"}
    assert held(GROUP_MEMBER) - held(GROUP_VIEWER) == {"accounts.add_campaign", "accounts.change_campaign"}
    assert held(GROUP_LEAD) - held(GROUP_MEMBER) == {
        "accounts.delete_campaign",
        "accounts.add_channel",
        "accounts.change_channel",
    }
    assert held(GROUP_REVOPS) - held(GROUP_LEAD) == {"accounts.delete_channel"}

"""Channels and campaigns move from the campaigns app into accounts, with their tables, rows and grants.

They are CRM reference records that events, opportunities and scoring rules name, so they belong to the
layer those live in; the campaigns app (pages, API, admin, later measurement) sits above scoring.

Only Django's picture of the models moves (``SeparateDatabaseAndState`` with no database operation): the
tables keep their names (``campaigns_channel``, ``campaigns_campaign``), their rows, indexes and foreign
keys. ``scoring.0013`` repoints ``Rule.campaign`` and ``campaigns.0004`` forgets the old models.

The content types are relabelled (``campaigns.campaign`` → ``accounts.campaign``) rather than created anew,
so the permission rows, the groups and users holding them, the audit log (``ChangeRecord.object_type``) and
admin history keep pointing at the same models, under the names ``accounts.view_campaign`` etc.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED_MODELS = ("channel", "campaign")


def content_types_relabel(apps, schema_editor, *, source: str, target: str) -> None:
    """Relabel the moved models' content types from ``source`` to ``target`` (both directions use it).

    If a ``target`` row already exists too (the new code ran ``post_migrate`` on this database before this
    migration did, e.g. after a migrate back and forth), the two are merged into it: grants of the old
    permissions go to the matching new ones, every other row naming the old content type (audit log, admin
    history) is repointed, and the old content type goes.
    """
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("auth", "User")
    db = schema_editor.connection.alias
    for model in MOVED_MODELS:
        old = ContentType.objects.using(db).filter(app_label=source, model=model).first()
        if old is None:
            continue  # a fresh database: post_migrate creates the rows under the models' app
        new = ContentType.objects.using(db).filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        for permission in Permission.objects.using(db).filter(content_type=old):
            twin = Permission.objects.using(db).filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            for group in Group.objects.using(db).filter(permissions=permission):
                group.permissions.add(twin)
            for user in User.objects.using(db).filter(user_permissions=permission):
                user.user_permissions.add(twin)
            permission.delete()
        # Hidden relations too: the audit log's object_type has related_name="+".
        for relation in ContentType._meta.get_fields(include_hidden=True):
            if relation.one_to_many and relation.auto_created and relation.related_model is not Permission:
                name = relation.field.name
                relation.related_model._base_manager.using(db).filter(**{name: old}).update(**{name: new})
        old.delete()


def forwards(apps, schema_editor):
    content_types_relabel(apps, schema_editor, source="campaigns", target="accounts")


def backwards(apps, schema_editor):
    content_types_relabel(apps, schema_editor, source="accounts", target="campaigns")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_contact_email_unicode"),
        ("campaigns", "0003_default_channels"),
        ("revops", "0003_jobrun_scope"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Channel",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("updated", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=100, unique=True)),
                        ("slug", models.SlugField(max_length=100, unique=True)),
                        ("description", models.TextField(blank=True)),
                        ("sort_order", models.PositiveSmallIntegerField(default=100)),
                    ],
                    options={
                        "db_table": "campaigns_channel",
                        "ordering": ["sort_order", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="Campaign",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("updated", models.DateTimeField(auto_now=True)),
                        ("name", models.CharField(max_length=200, unique=True)),
                        ("goal", models.CharField(choices=[("awareness", "Awareness / engagement"), ("pipeline", "Pipeline creation"), ("partner", "Partner co-selling"), ("win_rate", "Enterprise win rate"), ("competitive", "Competitive displacement"), ("velocity", "Deal velocity"), ("new_industry", "New industry"), ("expansion", "Expansion / upsell")], default="pipeline", max_length=32)),
                        ("description", models.TextField(blank=True)),
                        ("start_date", models.DateField(blank=True, null=True)),
                        ("end_date", models.DateField(blank=True, null=True)),
                        ("cost", models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                        ("owner_team", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="campaigns", to="revops.team")),
                        ("channel", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="campaigns", to="accounts.channel")),
                    ],
                    options={
                        "db_table": "campaigns_campaign",
                        "ordering": ["-start_date", "name"],
                        "constraints": [
                            models.CheckConstraint(condition=models.Q(("cost__gte", 0)), name="campaign_cost_not_negative"),
                            models.CheckConstraint(condition=models.Q(("end_date__isnull", True), ("start_date__isnull", True), ("end_date__gte", models.F("start_date")), _connector="OR"), name="campaign_ends_after_start"),
                        ],
                    },
                ),
                migrations.AlterField(
                    model_name="opportunity",
                    name="channel",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="opportunities", to="accounts.channel"),
                ),
                migrations.AlterField(
                    model_name="opportunity",
                    name="source_campaign",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="opportunities", to="accounts.campaign"),
                ),
                migrations.AlterField(
                    model_name="engagementevent",
                    name="campaign",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="events", to="accounts.campaign"),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]

"""Qualification policies join the one versioned-document workflow (``revops.documents``): proposed,
signed off by a marketing lead and a sales lead, published, superseded, rolled back.

Nothing is lost: new columns are empty (``based_on``, who proposed and when, a scheduled time), new
tables hold approvals, comments and history from now on, and "archived" (a version that was published
and replaced) is renamed "superseded", the same state's name for every versioned document. Going back
renames it "archived" again and returns proposals to drafts (the old code knows no other status).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


ARCHIVED, SUPERSEDED = "archived", "superseded"


def archived_to_superseded(apps, schema_editor):
    policies = apps.get_model("scoring", "QualificationPolicy")
    policies.objects.filter(status=ARCHIVED).update(status=SUPERSEDED)


def superseded_to_archived(apps, schema_editor):
    policies = apps.get_model("scoring", "QualificationPolicy")
    # Proposed, approved and scheduled versions did not exist before: back to drafts (their content
    # stays), so that every row has a status the old code knows.
    policies.objects.filter(status=SUPERSEDED).update(status=ARCHIVED)
    policies.objects.filter(status__in=["proposed", "approved", "scheduled"]).update(status="draft")


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0013_rule_campaign_in_accounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="qualificationpolicy",
            options={
                "ordering": ["-number"],
                "permissions": [
                    ("approve_qualificationpolicy", "Can approve a proposed qualification policy version"),
                    ("publish_qualificationpolicy", "Can publish a qualification policy"),
                ],
                "verbose_name_plural": "qualification policies",
            },
        ),
        migrations.AddField(
            model_name="qualificationpolicy",
            name="based_on",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="derived",
                to="scoring.qualificationpolicy",
            ),
        ),
        migrations.AddField(
            model_name="qualificationpolicy",
            name="proposed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="qualificationpolicy",
            name="proposed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="qualificationpolicy",
            name="publish_at",
            field=models.DateTimeField(blank=True, help_text="Scheduled publication.", null=True),
        ),
        migrations.AlterField(
            model_name="qualificationpolicy",
            name="number",
            field=models.PositiveIntegerField(help_text="Version number, 1, 2, 3 …", unique=True),
        ),
        migrations.AlterField(
            model_name="qualificationpolicy",
            name="published_at",
            field=models.DateTimeField(blank=True, help_text="Last time it went live.", null=True),
        ),
        migrations.AlterField(
            model_name="qualificationpolicy",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("proposed", "Proposed"),
                    ("approved", "Approved"),
                    ("scheduled", "Scheduled"),
                    ("published", "Published"),
                    ("superseded", "Superseded"),
                ],
                default="draft",
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="PolicyComment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("updated", models.DateTimeField(auto_now=True)),
                ("body", models.TextField()),
                (
                    "author",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="comments",
                        to="scoring.qualificationpolicy",
                    ),
                ),
            ],
            options={
                "ordering": ["created", "id"],
            },
        ),
        migrations.CreateModel(
            name="PolicyHistory",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(auto_now_add=True)),
                ("action", models.CharField(max_length=32)),
                ("detail", models.JSONField(blank=True, default=dict)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="history",
                        to="scoring.qualificationpolicy",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "policy history",
                "ordering": ["at", "id"],
            },
        ),
        migrations.CreateModel(
            name="PolicyApproval",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("updated", models.DateTimeField(auto_now=True)),
                ("team_kind", models.CharField(max_length=32)),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="approvals",
                        to="scoring.qualificationpolicy",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["created", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("policy", "user"), name="policy_approval_unique")
                ],
            },
        ),
        migrations.RunPython(archived_to_superseded, superseded_to_archived, elidable=False),
    ]

"""Read marks per person: a ``NotificationRead`` per (notification, user). A notification a team had
marked read counts as read by every member the team had then (that is what it meant); a notification
may be addressed to one user, and lists the accounts it is about."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def reads_copy(apps, schema_editor):
    Notification = apps.get_model("scoring", "Notification")
    NotificationRead = apps.get_model("scoring", "NotificationRead")
    Membership = apps.get_model("revops", "Membership")
    members: dict[int, list[int]] = {}
    for team_id, user_id in Membership.objects.values_list("team_id", "user_id"):
        members.setdefault(team_id, []).append(user_id)
    batch = []
    read = Notification.objects.filter(read_at__isnull=False).values_list("id", "team_id", "read_at")
    for notification_id, team_id, read_at in read.iterator(chunk_size=2000):
        batch += [
            NotificationRead(notification_id=notification_id, user_id=user_id, read_at=read_at)
            for user_id in members.get(team_id, ())
        ]
        if len(batch) >= 5000:
            NotificationRead.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    NotificationRead.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_owner_team_territories'),
        ('revops', '0003_jobrun_scope'),
        ('scoring', '0016_lifecycle_reason_codes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='NotificationRead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('read_at', models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name='notification',
            name='account_ids',
            field=models.JSONField(blank=True, default=list, help_text='The accounts it is about (its link lists exactly these).'),
        ),
        migrations.AddField(
            model_name='notification',
            name='user',
            field=models.ForeignKey(blank=True, help_text='Addressed to this person only; empty: to everyone in the team.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='notification',
            name='team',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='revops.team'),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(fields=['user', '-created'], name='notification_user_idx'),
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.CheckConstraint(condition=models.Q(('team__isnull', False), ('user__isnull', False), _connector='OR'), name='notification_has_audience'),
        ),
        migrations.AddField(
            model_name='notificationread',
            name='notification',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reads', to='scoring.notification'),
        ),
        migrations.AddField(
            model_name='notificationread',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='notificationread',
            index=models.Index(fields=['user', 'notification'], name='notification_read_user_idx'),
        ),
        migrations.AddConstraint(
            model_name='notificationread',
            constraint=models.UniqueConstraint(fields=('notification', 'user'), name='notification_read_once_per_user'),
        ),
        migrations.RunPython(reads_copy, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='notification',
            name='read_at',
        ),
    ]

from django.db import migrations

DEFAULT_CHANNELS = [
    ("Inbound", "inbound", "Buyers who come to us: web, content, search, demo requests.", 10),
    ("Outbound", "outbound", "BDR/SDR prospecting and sequences.", 20),
    ("Events", "events", "Conferences, field events and webinars.", 30),
    ("Partners", "partners", "Partner co-selling and referrals.", 40),
    ("Upsell", "upsell", "Expansion in existing customers.", 50),
    ("Direct", "direct", "Direct sales relationships.", 60),
]


def create_channels(apps, schema_editor):
    Channel = apps.get_model("campaigns", "Channel")
    for name, slug, description, sort_order in DEFAULT_CHANNELS:
        Channel.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "sort_order": sort_order}
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_initial")]
    operations = [migrations.RunPython(create_channels, migrations.RunPython.noop)]

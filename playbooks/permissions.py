"""What each role may do with playbooks (registered by ``PlaybooksConfig.ready``): viewers read playbooks,
runs and tasks; members draft and edit playbooks and work their tasks; leads approve (marketing and sales,
never the proposer), publish and delete drafts; revenue operations run the trigger."""

from revops.permissions import grants_register, model_perms

MODELS = ["playbook", "play", "playrun", "playtask", "playaction", "playbookapproval", "playbookcomment",
          "playbookhistory"]  # fmt: skip


def grants() -> None:
    grants_register(
        viewer=model_perms("playbooks", MODELS, ["view"]),
        member=model_perms("playbooks", ["playbook"], ["add", "change"])
        | {"playbooks.add_playbookcomment", "playbooks.change_playtask"},
        lead=model_perms("playbooks", ["playbook"], ["delete"])
        | {"playbooks.approve_playbook", "playbooks.publish_playbook"},
        revops_admin=model_perms("playbooks", MODELS, ["add", "change", "delete"])
        | {"playbooks.publish_playbook", "playbooks.change_playbookcursor"},
    )

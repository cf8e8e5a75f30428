"""The root ``kiosk`` command (library_kiosk/cli.py): each role's commands come from its own package, loaded
only when asked for."""
import argparse
import importlib
import subprocess
import sys

from library_kiosk.cli import COMMANDS

HEAVY = ("flask", "werkzeug", "peewee", "playhouse", "library_kiosk.central", "kiosk.app", "provisioning")


def _loaded_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after running ``kiosk ARGV`` (whatever its exit status)."""
    code = ("import sys\nfrom library_kiosk.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
                          env={"KIOSK_READERS_SERVICE_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"})
    return set(done.stderr.split())


def test_a_simulated_tap_loads_no_web_framework_database_or_store():
    loaded = _loaded_after(["reader", "tap", "04AABBCCDDEE01"])
    assert "hardware.client" in loaded  # the command did run
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)) == []


def test_help_loads_no_role():
    loaded = _loaded_after(["--help"])
    assert "library_kiosk.cli" in loaded
    assert sorted(m for m in loaded if m.startswith(("kiosk", "hardware", "provisioning", "library_kiosk.central",
                                                     "flask", "peewee"))) == []


def test_every_command_is_registered_by_the_module_the_table_names():
    registered = {}
    for module in dict.fromkeys(module for module, _help in COMMANDS.values()):
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).add_subcommands(commands)
        registered.update({name: module for name in commands.choices})
    assert registered == {name: module for name, (module, _help) in COMMANDS.items()}


def test_an_unknown_command_lists_the_commands(capsys):
    from library_kiosk.cli import main

    try:
        main(["reeder", "tap"])
    except SystemExit as exit:
        assert exit.code == 2
    assert "invalid choice: 'reeder'" in capsys.readouterr().err

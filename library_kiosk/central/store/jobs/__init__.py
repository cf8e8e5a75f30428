"""Central store administration jobs: the patron feed and the user-management jobs.

One module per job (``feed``, ``purge``, ``waive``, ``merge``, ``groups``,
``anonymise``). Each job is a plain function taking its parameters, an operator
name, ``today``, ``dry_run`` and an optional ``progress(done, total)`` callback, and
returning a :class:`store.jobs.report.JobReport`; every run is stored as a
``JobRun`` row (``store/jobs/models.py``). The ``kiosk admin`` commands
(``library_kiosk/central/admin_cli.py``) and the provisioning station call the same functions.
"""

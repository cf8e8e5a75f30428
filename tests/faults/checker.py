"""The invariants, checked once every fault is healed and every kiosk has pushed and pulled to quiescence.
``check(run)`` returns the violations (plain sentences; none when all hold):

1. every operation a kiosk queued (and did not take back) is applied at the central store exactly once, and
   nothing else of that device is: its sequence numbers run 1..last without a hole, all acknowledged (outbox
   empty, the device's ``last_seq`` the kiosk's last number);
2. every loan's renewals at the central store are its starting count plus the renewals the applied operations
   report, never past the maximum;
3. what the patron was told holds: a renewal confirmed on screen is applied; one decided offline ("pending") is
   applied, or refused with a conflict staff see; a refusal renewed nothing; every refused operation is a
   visible conflict;
4. each call for staff and each lockout report is made exactly once;
5. every kiosk's cache equals what the central store serves.
"""
from __future__ import annotations

import json

from tests.sync.procs import cache_checksum, central_checksum


def _renewed(response: dict) -> dict[int, bool]:
    return {r["loan_id"]: bool(r["renewed"]) for r in (response.get("result") or {}).get("results") or []}


def _applied_ops(device) -> dict[str, dict]:
    from library_kiosk.central.store.devices import AppliedOp

    return {op.key: {"status": op.status, "seq": op.seq, "type": op.op_type, "response": json.loads(op.response)}
            for op in AppliedOp.select().where(AppliedOp.device == device)}


def check(run) -> list[str]:
    from library_kiosk.central.store.devices import Device, SyncConflict

    violations: list[str] = []
    applied_all: dict[str, dict] = {}
    for k, kiosk in enumerate(run.kiosks):
        device = Device.get(Device.name == kiosk.name)
        applied = _applied_ops(device)
        applied_all.update(applied)
        violations += _exactly_once(run, k, kiosk, device, applied)
    conflicts = {c.op_key for c in SyncConflict.select(SyncConflict.op_key).where(
        SyncConflict.device.in_([kiosk.name for kiosk in run.kiosks]))}
    violations += _renewal_counts(run, applied_all)
    violations += _promises(run, applied_all, conflicts)
    violations += [f"operation {key} was refused ({op['response'].get('reason')}) without a visible conflict"
                   for key, op in applied_all.items() if op["status"] == "rejected" and key not in conflicts]
    if not any(op["type"] == "renew" and op["status"] == "applied" for op in applied_all.values()):
        violations.append("no renewal reached the central store: the history tested nothing")
    violations += _calls_and_lockouts(run, applied_all)
    violations += _central_locks(run.lockers)
    violations += _conflicts_at_kiosks(run, conflicts_by_device(run))
    violations += _caches_equal(run)
    return violations


def _queued(run, k: int) -> tuple[dict, set]:
    ops, withdrawn = {}, set()
    for record in run.records:
        if record["kiosk"] == k:
            ops.update({op["key"]: op for op in record["answer"].get("ops") or []})
            withdrawn.update(record["answer"].get("withdrawn") or [])
    return ops, withdrawn


def _exactly_once(run, k: int, kiosk, device, applied: dict) -> list[str]:
    found = []
    ops, withdrawn = _queued(run, k)
    kept = set(ops) - withdrawn
    missing, extra = kept - set(applied), set(applied) - kept
    if missing:
        found.append(f"{kiosk.name}: {len(missing)} queued operations never applied: {sorted(missing)[:5]}")
    if extra:
        found.append(f"{kiosk.name}: {len(extra)} applied operations it did not queue: {sorted(extra)[:5]}")
    if withdrawn & set(applied):
        found.append(f"{kiosk.name}: operations taken back yet applied: {sorted(withdrawn & set(applied))[:5]}")
    seqs = sorted(op["seq"] for op in applied.values())
    if seqs != list(range(1, len(seqs) + 1)) or device.last_seq != len(seqs):
        found.append(f"{kiosk.name}: applied sequence numbers not 1..{device.last_seq} without a hole: "
                     f"{seqs[:3]}...{seqs[-3:]} ({len(seqs)})")
    state = kiosk.ask({"op": "state"})
    if state.get("outbox") != 0 or state.get("op_seq") != device.last_seq:
        found.append(f"{kiosk.name}: outbox not fully acknowledged: {state.get('outbox')} left, kiosk at "
                     f"{state.get('op_seq')}, central store at {device.last_seq}")
    return found


def _renewal_counts(run, applied_all: dict) -> list[str]:
    from library_kiosk.central.store.models import Loan

    granted: dict[int, int] = {}
    for op in applied_all.values():
        if op["type"] == "renew" and op["status"] == "applied":
            for loan_id, renewed in _renewed(op["response"]).items():
                granted[loan_id] = granted.get(loan_id, 0) + renewed
    found = []
    for loan in Loan.select(Loan.id, Loan.renewals).where(Loan.id.in_(list(run.loans))):
        start, most = run.loans[loan.id]
        if loan.renewals != start + granted.get(loan.id, 0):
            found.append(f"loan {loan.id}: {loan.renewals} renewals at the central store, but {start} at the start "
                         f"and {granted.get(loan.id, 0)} granted by applied operations")
        if loan.renewals > most:
            found.append(f"loan {loan.id}: {loan.renewals} renewals, past its maximum of {most}")
    return found


def _renew_key(answer: dict) -> str | None:
    """The operation that carries a renewal's outcome: the last renewal queued and not taken back."""
    kept = [op["key"] for op in answer.get("ops") or [] if op["type"] == "renew"
            and op["key"] not in (answer.get("withdrawn") or [])]
    return kept[-1] if kept else None


def _promises(run, applied_all: dict, conflicts: set) -> list[str]:
    found = []
    for record in run.records:
        answer = record["answer"]
        if not answer.get("outcomes"):
            continue
        key = _renew_key(answer)
        op = applied_all.get(key) if key else None
        for outcome in answer["outcomes"]:
            loan = outcome["loan_id"]
            said = f"{run.kiosks[record['kiosk']].name} step {record['step']}: loan {loan}"
            if op is None:
                if outcome["renewed"] or outcome["pending"]:
                    found.append(f"{said}: told {outcome} but no operation reached the central store")
                continue
            renewed = op["status"] == "applied" and _renewed(op["response"]).get(loan, False)
            refused_visibly = key in conflicts and (op["status"] == "rejected" or loan in (
                (op["response"].get("result") or {}).get("pending_refused") or []))
            if outcome["renewed"] and not outcome["pending"] and not renewed:
                found.append(f"{said}: told renewed, not renewed at the central store ({op['response']})")
            elif outcome["renewed"] and outcome["pending"] and not (renewed or refused_visibly):
                found.append(f"{said}: told renewed pending, neither renewed nor a visible conflict")
            elif not outcome["renewed"] and not outcome["pending"] and renewed:
                found.append(f"{said}: told refused ({outcome['reason']}), yet renewed at the central store")
    return found


def _calls_and_lockouts(run, applied_all: dict) -> list[str]:
    from library_kiosk.central.store.kiosk_calls import StaffCall
    from library_kiosk.central.store.pin_checks import LOCKOUT_ACTION
    from library_kiosk.central.store.staff import AuditEntry

    found = []
    for k, kiosk in enumerate(run.kiosks):
        ops, withdrawn = _queued(run, k)
        calls = [key for key, op in ops.items() if op["type"] == "call_staff" and key not in withdrawn]
        made = StaffCall.select().where(StaffCall.device == kiosk.name).count()
        if made != len(calls):
            found.append(f"{kiosk.name}: {len(calls)} calls for staff queued, {made} made at the central store")
        lockouts = [key for key, op in ops.items() if op["type"] == "lockout" and key not in withdrawn]
        applied = [key for key in lockouts if applied_all.get(key, {}).get("status") == "applied"]
        audits = AuditEntry.select().where((AuditEntry.action == LOCKOUT_ACTION) & AuditEntry.detail.startswith(
            f"Card locked at {kiosk.name} ") & AuditEntry.detail.endswith("(reported by sync)")).count()
        if audits != len(applied):
            found.append(f"{kiosk.name}: {len(applied)} lockout reports applied, {audits} in the audit log")
    return found


def _central_locks(lockers: list[str]) -> list[str]:
    """A card the central store locked (every kiosk's wrong PINs counted there) is in the audit log once."""
    from library_kiosk.central.store.pin_checks import LOCKOUT_ACTION, PinFailures
    from library_kiosk.central.store.staff import AuditEntry

    locked = {row.primary_id for row in PinFailures.select(PinFailures.primary_id).where(
        PinFailures.primary_id.in_(lockers) & PinFailures.locked_until.is_null(False))}
    found = []
    for primary_id in lockers:
        audits = AuditEntry.select().where((AuditEntry.action == LOCKOUT_ACTION) & (AuditEntry.primary_id == primary_id)
                                           & AuditEntry.detail.startswith("Card locked at every kiosk")).count()
        if audits != (primary_id in locked):
            found.append(f"patron {primary_id}: {'locked' if primary_id in locked else 'not locked'} at the central "
                         f"store, {audits} lock entries in the audit log")
    return found


def conflicts_by_device(run) -> dict[str, set]:
    from library_kiosk.central.store.devices import SyncConflict

    found: dict[str, set] = {kiosk.name: set() for kiosk in run.kiosks}
    for conflict in SyncConflict.select(SyncConflict.device, SyncConflict.op_key).where(
            SyncConflict.device.in_(list(found))):
        found[conflict.device].add(conflict.op_key)
    return found


def _conflicts_at_kiosks(run, conflicts: dict[str, set]) -> list[str]:
    """Every conflict of a kiosk's operation is shown at that kiosk too (``kiosk sync status``: its rejections)."""
    found = []
    for kiosk in run.kiosks:
        shown = {r["key"] for r in kiosk.ask({"op": "state"}).get("rejected") or []}
        if conflicts[kiosk.name] - shown:
            found.append(f"{kiosk.name}: conflicts at the central store not shown at the kiosk: "
                         f"{sorted(conflicts[kiosk.name] - shown)[:5]}")
    return found


def _caches_equal(run) -> list[str]:
    central = central_checksum()
    caches = {kiosk.name: cache_checksum(kiosk.cache_path) for kiosk in run.kiosks}
    return [f"{name}: its cache ({cache[0]} patrons) differs from the central store ({central[0]})"
            for name, cache in caches.items() if cache != central]

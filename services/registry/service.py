"""The registry service's RPC surface: thin entrypoints over catalogue/guides/institutions/windows.

Payloads are validated again here although the gateway already did: the RPC
queue is reachable by anything on the broker, not only by the gateway.

    nameko run --config deploy/nameko.yaml services.registry.service
"""
from __future__ import annotations

import logging

from nameko.timer import timer
from services.common.collectors import register_service_collectors

from services.common import sla
from services.common.consumer import run_idempotent
from services.common.nameko_ext import DatabaseProvider, MetricsServer, OutboxRelayProvider, rpc

from . import access, cases, catalogue, files, guides, institutions, training, windows
from .schemas import (ApplicationIn, CapabilityCreate, CaseIn, CaseLogIn, CaseTeamIn, CatalogItemIn, CatalogItemUpdate,
                      ChangeIn, DeregistrationIn, GuideIn, QualificationCreate, ReviewIn, TrainingIn, WindowIn,
                      WindowServicesIn, WindowUpdate, load)

log = logging.getLogger(__name__)
SWEEP_SECONDS = sla.sweep_seconds()
FILES_GC_SECONDS = 3600
_collector_registered = []


def _once(session, principal, idempotency_key, operation: str, payload, create):
    """`create()` under the caller's Idempotency-Key (API.md: the same key returns the
    same result and creates nothing twice), recorded in `session`'s transaction.

    `operation` names the target (e.g. the institution id), so a key reused for the
    same body on another target is refused rather than answered with the first result.
    The principal is checked first: keys are per user, and an anonymous RPC call
    must get a 401, not a shared "anonymous" key space.
    """
    user_id = str(access.require_principal(principal)["user_id"])
    return run_idempotent(session, user_id, idempotency_key, operation, payload, create)


class RegistryService:
    name = "registry"

    db = DatabaseProvider()
    relay = OutboxRelayProvider()
    metrics = MetricsServer()

    def _collector(self):
        # The open-clocks gauge reads the database at scrape time; register once per process.
        if not _collector_registered:
            register_service_collectors(self.db)
            _collector_registered.append(True)

    @rpc
    def ping(self) -> dict:
        self._collector()
        return {"service": self.name, "ok": True}

    @timer(interval=SWEEP_SECONDS)
    def sweep(self) -> dict:
        self._collector()
        with self.db.transaction() as session:
            result = institutions.sweep(session)
        if any(result.values()):
            log.info("registry sweep: %s", result)
        return result

    @timer(interval=FILES_GC_SECONDS)
    def files_gc(self) -> dict:
        with self.db.read() as session:
            result = files.gc(session)
        if any(result.values()):
            log.info("registry files gc: %s", result)
        return result

    # -- catalogue & guides (public reads) -----------------------------------------------
    @rpc
    def list_categories(self) -> list:
        with self.db.read() as session:
            return catalogue.snapshot(session, public_only=True)

    @rpc
    def list_items(self, category=None) -> list:
        with self.db.read() as session:
            return catalogue.list_items(session, category=category)

    @rpc
    def create_item(self, principal, payload, idempotency_key=None) -> dict:
        access.require_role(principal, access.OPERATORS)
        data = load(CatalogItemIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, "registry.catalog_item", payload,
                         lambda: catalogue.create_item(session, principal, data))

    @rpc
    def update_item(self, principal, code, payload) -> dict:
        access.require_role(principal, access.OPERATORS)
        data = load(CatalogItemUpdate, payload)
        with self.db.transaction() as session:
            return catalogue.update_item(session, principal, code, data)

    @rpc
    def get_guide(self, item_code, principal=None) -> dict:
        with self.db.read() as session:
            return guides.current(session, item_code, principal)

    @rpc
    def list_guide_versions(self, item_code, principal=None) -> list:
        with self.db.read() as session:
            return guides.versions(session, item_code, principal)

    @rpc
    def get_guide_version(self, item_code, version, principal=None) -> dict:
        with self.db.read() as session:
            return guides.version(session, item_code, version, principal)

    @rpc
    def publish_guide(self, principal, item_code, payload, idempotency_key=None) -> dict:
        # Every call adds a guide version, so a retried PUT needs the key as much as a POST.
        access.require_role(principal, access.OPERATORS)
        data = load(GuideIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, f"registry.guide:{item_code}", payload,
                         lambda: guides.publish(session, principal, item_code, data))

    # -- applications ----------------------------------------------------------------------
    @rpc
    def submit_application(self, principal, payload, idempotency_key=None) -> dict:
        access.require_role(principal, access.APPLICANTS)
        data = load(ApplicationIn, payload)
        with self.db.transaction() as session:
            return run_idempotent(session, str(principal["user_id"]), idempotency_key, "registry.apply", payload,
                                  lambda: institutions.submit_application(session, principal, data))

    @rpc
    def resubmit_application(self, principal, application_id, payload) -> dict:
        data = load(ApplicationIn, payload)
        with self.db.transaction() as session:
            return institutions.resubmit_application(session, principal, application_id, data)

    @rpc
    def review_application(self, principal, application_id, payload, idempotency_key=None) -> dict:
        # A decision creates the institution (approve) and emits events: a retry after a
        # lost response must get the decision back, not a 409 "already decided".
        access.require_role(principal, access.OPERATORS)
        data = load(ReviewIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, f"registry.application_review:{application_id}",
                         payload, lambda: institutions.review_application(session, principal, application_id,
                                                                          data["decision"], data["reasons"]))

    @rpc
    def get_application(self, principal, application_id) -> dict:
        with self.db.read() as session:
            return institutions.get_application(session, principal, application_id)

    @rpc
    def list_applications(self, principal, status=None, limit=50, offset=0) -> dict:
        with self.db.read() as session:
            return institutions.list_applications(session, principal, status=status, limit=int(limit),
                                                  offset=int(offset))

    # -- institutions ------------------------------------------------------------------------
    @rpc
    def list_institutions(self, principal=None, category=None, kind=None, status=None, limit=50, offset=0) -> dict:
        with self.db.read() as session:
            return institutions.list_institutions(session, principal, category=category, kind=kind, status=status,
                                                  limit=int(limit), offset=int(offset))

    @rpc(caller="optional")  # public: anonymous readers see the public view
    def get_institution(self, principal, institution_id) -> dict:
        with self.db.read() as session:
            return institutions.get_institution(session, principal, institution_id)

    @rpc(caller="optional")  # public: anonymous readers see the public view
    def list_capabilities(self, principal, institution_id) -> list:
        with self.db.read() as session:
            return institutions.list_capabilities(session, principal, institution_id)

    @rpc(caller="optional")  # public: anonymous readers see the public view
    def list_qualifications(self, principal, institution_id) -> list:
        with self.db.read() as session:
            return institutions.list_qualifications(session, principal, institution_id)

    @rpc
    def add_qualification(self, principal, institution_id, payload, idempotency_key=None) -> dict:
        data = load(QualificationCreate, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, f"registry.qualification:{institution_id}", payload,
                         lambda: institutions.add_qualification(session, principal, institution_id, data))

    @rpc
    def add_capability(self, principal, institution_id, payload, idempotency_key=None) -> dict:
        data = load(CapabilityCreate, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, f"registry.capability:{institution_id}", payload,
                         lambda: institutions.add_capability(session, principal, institution_id, data))

    @rpc
    def submit_change(self, principal, institution_id, payload, idempotency_key=None) -> dict:
        data = load(ChangeIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, f"registry.change:{institution_id}", payload,
                         lambda: institutions.submit_change(session, principal, institution_id, data))

    @rpc
    def review_change(self, principal, institution_id, change_id, payload, idempotency_key=None) -> dict:
        data = load(ReviewIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key,
                         f"registry.change_review:{institution_id}:{change_id}", payload,
                         lambda: institutions.review_change(session, principal, institution_id, change_id,
                                                            data["decision"], data["reasons"]))

    @rpc
    def resubmit_change(self, principal, institution_id, change_id, payload) -> dict:
        data = load(ChangeIn, payload)
        with self.db.transaction() as session:
            return institutions.resubmit_change(session, principal, institution_id, change_id, data)

    @rpc
    def get_change(self, principal, institution_id, change_id) -> dict:
        with self.db.read() as session:
            return institutions.get_change(session, principal, institution_id, change_id)

    @rpc
    def list_changes(self, principal, institution_id) -> list:
        with self.db.read() as session:
            return institutions.list_changes(session, principal, institution_id)

    @rpc
    def deregister(self, principal, institution_id, payload, idempotency_key=None) -> dict:
        data = load(DeregistrationIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, f"registry.deregistration:{institution_id}", payload,
                         lambda: institutions.deregister(session, principal, institution_id, data))

    @rpc
    def institution_history(self, principal, institution_id) -> list:
        with self.db.read() as session:
            return institutions.history(session, principal, institution_id)

    @rpc
    def notifications(self, principal, limit=50, offset=0) -> dict:
        with self.db.read() as session:
            return institutions.notifications(session, principal, limit=int(limit), offset=int(offset))

    @rpc
    def list_review_clocks(self, principal, state=None, overdue=None, calendar_gap=None) -> list:
        access.require_role(principal, access.READERS)
        with self.db.read() as session:
            return [sla.clock_view(c) for c in sla.list_clocks(session, state=state or list(sla.OPEN_STATES),
                                                                 overdue=overdue, calendar_gap=calendar_gap)]

    # -- windows ----------------------------------------------------------------------------------
    @rpc
    def list_windows(self, principal=None, kind=None) -> list:
        with self.db.read() as session:
            return windows.list_windows(session, principal, kind=kind)

    @rpc(caller="optional")  # public: anonymous readers see the public view
    def get_window(self, principal, window_id) -> dict:
        with self.db.read() as session:
            return windows.get(session, principal, window_id)

    @rpc
    def create_window(self, principal, payload, idempotency_key=None) -> dict:
        access.require_role(principal, access.OPERATORS)
        data = load(WindowIn, payload)
        with self.db.transaction() as session:
            return _once(session, principal, idempotency_key, "registry.window", payload,
                         lambda: windows.create(session, principal, data))

    @rpc
    def set_window_services(self, principal, window_id, payload) -> dict:
        data = load(WindowServicesIn, payload)
        with self.db.transaction() as session:
            return windows.set_services(session, principal, window_id, data["services"])

    @rpc
    def update_window(self, principal, window_id, payload) -> dict:
        access.require_role(principal, access.OPERATORS)
        data = load(WindowUpdate, payload)
        with self.db.transaction() as session:
            return windows.update_identity(session, principal, window_id, data)

    # -- enterprise windows: point-to-point cases ----------------------------------------------
    @rpc
    def create_case(self, principal, window_id, payload, idempotency_key=None) -> dict:
        access.require_role(principal, access.OPERATORS)
        data = load(CaseIn, payload)
        with self.db.transaction() as session:
            return run_idempotent(session, str(principal["user_id"]), idempotency_key,
                                  f"registry.case:{window_id}", payload,
                                  lambda: cases.create_case(session, principal, window_id, data))

    @rpc
    def list_cases(self, principal, window_id) -> list:
        with self.db.read() as session:
            return cases.list_cases(session, principal, window_id)

    @rpc
    def get_case(self, principal, window_id, case_id) -> dict:
        with self.db.read() as session:
            return cases.get_case(session, principal, window_id, case_id)

    @rpc
    def set_case_team(self, principal, window_id, case_id, payload) -> dict:
        data = load(CaseTeamIn, payload)
        with self.db.transaction() as session:
            return cases.set_team(session, principal, window_id, case_id, data["members"])

    @rpc
    def add_case_log(self, principal, window_id, case_id, payload, idempotency_key=None) -> dict:
        data = load(CaseLogIn, payload)
        with self.db.transaction() as session:
            # The case id alone names the target (it is unique across windows, and the
            # name must fit idempotency_record.operation, 100 characters).
            return _once(session, principal, idempotency_key, f"registry.case_log:{case_id}", payload,
                         lambda: cases.add_log(session, principal, window_id, case_id, data))

    # -- training (clause 5) ----------------------------------------------------------------------
    @rpc
    def list_trainings(self, category=None, limit=50, offset=0) -> dict:
        with self.db.read() as session:
            return training.list_upcoming(session, category=category, limit=int(limit), offset=int(offset))

    @rpc(caller="optional")  # public: anonymous readers see the public view
    def get_training(self, principal, training_id) -> dict:
        with self.db.read() as session:
            return training.get_event(session, principal, training_id)

    @rpc
    def create_training(self, principal, payload, idempotency_key=None) -> dict:
        access.require_role(principal, access.OPERATORS)
        data = load(TrainingIn, payload)
        with self.db.transaction() as session:
            return run_idempotent(session, str(principal["user_id"]), idempotency_key, "registry.training", payload,
                                  lambda: training.create_event(session, principal, data))

    @rpc
    def sign_up_training(self, principal, training_id) -> dict:
        with self.db.transaction() as session:
            return training.sign_up(session, principal, training_id)

    @rpc
    def cancel_training_signup(self, principal, training_id) -> dict:
        with self.db.transaction() as session:
            return training.cancel(session, principal, training_id)

    @rpc
    def my_training_signup(self, principal, training_id) -> dict:
        with self.db.read() as session:
            return training.my_signup(session, principal, training_id)

    @rpc
    def list_training_signups(self, principal, training_id) -> dict:
        with self.db.read() as session:
            return training.list_signups(session, principal, training_id)

"""``/certificates``: uploaded (PEM certificate + key) and managed (issued for domain names).

A managed certificate is issued by a ``create_certificate`` action that runs for the project's
duration of that command; its ``status.issuance`` goes ``pending`` -> ``completed``. Issuance fails
(``dns_zone_not_found``) when a domain name ends in ``.invalid`` (RFC 2606's reserved name), so
the failure and ``retry`` paths can be exercised; ``retry`` runs ``issue_certificate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from hcloud_sim.clock import iso
from hcloud_sim.errors import ApiError, invalid_field
from hcloud_sim.model import ErrorPair
from hcloud_sim.query import Reply, Request, Route, body_labels, choices, one, page, path_id
from hcloud_sim.query import selector as query_selector
from hcloud_sim.query import sort_items as sort_by
from hcloud_sim.render import render_action
from hcloud_sim.resources import Family
from hcloud_sim.resources.certificates import pem
from hcloud_sim.resources.kit import (
    LIST_SORTS,
    action_routes,
    as_list,
    as_str,
    body_name,
    ensure_unique,
    required,
)

if TYPE_CHECKING:
    from hcloud_sim.project import Project
    from hcloud_sim.spec import ProjectSpec

ISSUE_FAILED: ErrorPair = ("dns_zone_not_found", "DNS zone not found")
_DOMAIN = re.compile(
    r"^(\*\.)?(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


@dataclass
class Certificate:
    id: int
    name: str
    type: Literal["uploaded", "managed"]
    created: float
    domain_names: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    certificate: str | None = None
    fingerprint: str | None = None
    not_valid_before: float | None = None
    not_valid_after: float | None = None
    #: managed only: pending, completed or failed
    issuance: str | None = None
    error: ErrorPair | None = None


@dataclass
class CertificateState:
    certificates: dict[int, Certificate] = field(default_factory=dict)


def state(project: Project) -> CertificateState:
    return project.store(CertificateState)


def get(project: Project, certificate_id: int) -> Certificate:
    found = state(project).certificates.get(certificate_id)
    if found is None:
        raise ApiError("not_found", f"certificate with ID '{certificate_id}' not found")
    return found


def render(project: Project, cert: Certificate) -> dict[str, Any]:
    from hcloud_sim.resources.load_balancers.model import certificate_users  # noqa: PLC0415

    status = None
    if cert.type == "managed":
        status = {
            "issuance": cert.issuance,
            "renewal": "unavailable",
            "error": {"code": cert.error[0], "message": cert.error[1]} if cert.error else None,
        }
    return {
        "id": cert.id,
        "name": cert.name,
        "labels": dict(cert.labels),
        "type": cert.type,
        "certificate": cert.certificate,
        "created": iso(cert.created),
        "not_valid_before": iso(cert.not_valid_before),
        "not_valid_after": iso(cert.not_valid_after),
        "domain_names": list(cert.domain_names),
        "fingerprint": cert.fingerprint,
        "status": status,
        "used_by": [
            {"id": lb, "type": "load_balancer"} for lb in certificate_users(project, cert.id)
        ],
    }


def _fill(cert: Certificate, certificate: str, private_key: str) -> None:
    facts = pem.parse(certificate, private_key)
    cert.certificate = certificate
    cert.fingerprint = facts.fingerprint
    cert.not_valid_before, cert.not_valid_after = facts.not_valid_before, facts.not_valid_after
    if not cert.domain_names:
        cert.domain_names = facts.domain_names


def _issue(project: Project, cert: Certificate, command: str) -> Any:
    """Start issuing a managed certificate: ``pending`` until its action ends."""
    cert.issuance, cert.error = "pending", None
    fails = any(d.endswith(".invalid") for d in cert.domain_names)

    def issued(t: float) -> None:
        certificate, key = pem.self_signed(cert.domain_names, t)
        _fill(cert, certificate, key)
        cert.issuance = "completed"

    def failed(t: float) -> None:
        del t
        cert.issuance, cert.error = "failed", ISSUE_FAILED

    return project.begin_on(
        command,
        [(cert.id, "certificate")],
        duration=project.draw(project.spec.duration_for(command)),
        error=ISSUE_FAILED if fails else None,
        on_success=issued,
        on_error=failed,
    )


def _domain_names(value: Any) -> list[str]:
    names = [as_str(v, f"domain_names.{i}") for i, v in enumerate(as_list(value, "domain_names"))]
    if not names:
        raise invalid_field("domain_names", "at least one domain name is required")
    for i, name in enumerate(names):
        if not _DOMAIN.fullmatch(name):
            raise invalid_field(f"domain_names.{i}", "is not a valid domain name")
    return names


def list_certificates(req: Request) -> Reply:
    name, wanted = one(req, "name"), query_selector(req)
    types = set(choices(req, "type", ("uploaded", "managed")))
    found = [
        c
        for c in sorted(state(req.project).certificates.values(), key=lambda c: c.id)
        if (name is None or c.name == name)
        and (wanted is None or wanted.matches(c.labels))
        and (not types or c.type in types)
    ]
    found = sort_by(req, found, LIST_SORTS)
    return page(req, "certificates", found, lambda c: render(req.project, c))


def create_certificate(req: Request) -> Reply:
    p = req.project
    name = required(body_name(req), "name")
    labels = body_labels(req) or {}
    kind = req.body.get("type") or "uploaded"
    if kind not in ("uploaded", "managed"):
        raise invalid_field("type", "must be one of uploaded, managed")
    ensure_unique((c.name for c in state(p).certificates.values()), name, "certificate")
    cert = Certificate(id=0, name=name, type="uploaded", created=req.now, domain_names=[])
    cert.labels = labels
    if kind == "uploaded":
        certificate = as_str(required(req.body.get("certificate"), "certificate"), "certificate")
        key = as_str(required(req.body.get("private_key"), "private_key"), "private_key")
        _fill(cert, certificate, key)
    else:
        cert.type = "managed"
        for absent in ("certificate", "private_key"):
            if req.body.get(absent) is not None:
                raise invalid_field(absent, "is only for uploaded certificates")
        cert.domain_names = _domain_names(required(req.body.get("domain_names"), "domain_names"))
    cert.id = p.sim.next_id("certificate")
    state(p).certificates[cert.id] = cert
    action = _issue(p, cert, "create_certificate") if kind == "managed" else None
    return Reply(
        201,
        {
            "certificate": render(p, cert),
            "action": render_action(action, req.now) if action is not None else None,
        },
    )


def get_certificate(req: Request) -> Reply:
    return Reply(200, {"certificate": render(req.project, get(req.project, path_id(req)))})


def update_certificate(req: Request) -> Reply:
    p = req.project
    cert = get(p, path_id(req))
    name, labels = body_name(req), body_labels(req)
    if name is not None and name != cert.name:
        ensure_unique((c.name for c in state(p).certificates.values()), name, "certificate")
        cert.name = name
    if labels is not None:
        cert.labels = labels
    return Reply(200, {"certificate": render(p, cert)})


def delete_certificate(req: Request) -> Reply:
    from hcloud_sim.resources.load_balancers.model import certificate_users  # noqa: PLC0415

    cert = get(req.project, path_id(req))
    if certificate_users(req.project, cert.id):
        raise ApiError(
            "resource_in_use", f"certificate with ID '{cert.id}' is still in use", status=422
        )
    if req.project.is_locked((cert.id, "certificate")):
        raise ApiError("locked", "cannot perform operation because certificate is locked")
    del state(req.project).certificates[cert.id]
    return Reply(204, None)


def retry(req: Request) -> Reply:
    cert = get(req.project, path_id(req))
    if cert.type != "managed" or cert.issuance != "failed":
        raise ApiError(
            "unsupported_error",
            "only a managed certificate whose issuance failed can be retried",
        )
    action = _issue(req.project, cert, "issue_certificate")
    return Reply(201, {"action": render_action(action, req.now)})


# -- scenarios ------------------------------------------------------------------------------


class CertificateSpec(BaseModel):
    """A certificate of a scenario; an uploaded one without PEM gets a self-signed one."""

    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["uploaded", "managed"] = "uploaded"
    domain_names: list[str] = Field(default_factory=lambda: ["example.com"], min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    certificate: str | None = None
    private_key: str | None = None
    issuance: Literal["completed", "pending", "failed"] = Field(
        default="completed", description="managed only: where its issuance stands"
    )

    @model_validator(mode="after")
    def _checked(self) -> CertificateSpec:
        """Domain names and PEMs are refused when the file loads, as the API would refuse them."""
        try:
            _domain_names(self.domain_names)
            if (self.certificate is None) != (self.private_key is None):
                raise invalid_field("certificate", "give both certificate and private_key")
            if self.certificate is not None and self.private_key is not None:
                pem.parse(self.certificate, self.private_key)
        except ApiError as exc:
            raise ValueError(f"certificate {self.name!r}: {exc.message}") from None
        return self


class CertificatesSection(RootModel[list[CertificateSpec]]):
    def check_refs(self, project: ProjectSpec) -> None:
        del project
        names = [c.name for c in self.root]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"certificate name {twice[0]!r} is used twice")


def _seed(project: Project, section: CertificatesSection | None) -> None:
    now = project.sim.clock.now()
    for spec in section.root if section is not None else []:
        if any(c.name == spec.name for c in state(project).certificates.values()):
            raise ValueError(f"certificate name {spec.name!r} is used twice")
        cert = Certificate(
            id=project.sim.next_id("certificate"),
            name=spec.name,
            type=spec.type,
            created=now - 86400,
            domain_names=list(spec.domain_names),
            labels=dict(spec.labels),
        )
        certificate, key = spec.certificate, spec.private_key
        if certificate is None or key is None:
            certificate, key = pem.self_signed(spec.domain_names, now - 86400)
        try:
            if spec.type == "uploaded" or spec.issuance == "completed":
                _fill(cert, certificate, key)
        except ApiError as exc:
            raise ValueError(f"certificate {spec.name!r}: {exc.message}") from None
        state(project).certificates[cert.id] = cert
        if spec.type == "managed":
            cert.issuance = spec.issuance
            if spec.issuance == "failed":
                cert.error = ISSUE_FAILED
            elif spec.issuance == "pending":
                _issue(project, cert, "create_certificate")


def _ground_truth(project: Project) -> list[dict[str, Any]]:
    found = sorted(state(project).certificates.values(), key=lambda c: c.id)
    return [render(project, c) for c in found]


def _exists(project: Project, certificate_id: int) -> object:
    return get(project, certificate_id)


FAMILY = Family(
    name="certificates",
    routes=(
        *action_routes("certificates", "certificate", _exists),
        Route("GET", "/certificates", list_certificates),
        Route(
            "POST",
            "/certificates",
            create_certificate,
            frozenset({"name", "labels", "type", "certificate", "private_key", "domain_names"}),
        ),
        Route("GET", "/certificates/{id}", get_certificate),
        Route("PUT", "/certificates/{id}", update_certificate, frozenset({"name", "labels"})),
        Route("DELETE", "/certificates/{id}", delete_certificate),
        Route("POST", "/certificates/{id}/actions/retry", retry),
    ),
    section=CertificatesSection,
    seed=_seed,
    order=150,
    ground_truth=_ground_truth,
)

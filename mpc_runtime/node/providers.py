"""Choosing a party's preprocessing provider from the job spec (``preprocessing = "ot" |
"dealer"``, already resolved against the cluster's default, so every party agrees).

* ``dealer``: a separate dealer process (the cluster's ``[dealer]`` endpoint) that this party
  dials; or, only when the cluster opts in with ``[coordinator] embedded_dealer = true``, the
  dealer inside the coordinator, reached over the coordinator connection.
* ``ot``: the parties make the material among themselves (:mod:`mpc_runtime.preprocessing.ot`);
  no third party is involved.

May import: config, errors, ids, deadline, jobs.spec, node.control, preprocessing, transport.
"""

from __future__ import annotations

from mpc_runtime.config import ClusterConfig
from mpc_runtime.deadline import Deadline
from mpc_runtime.errors import ConfigError
from mpc_runtime.ids import Identity
from mpc_runtime.jobs.spec import JobSpec
from mpc_runtime.node.control import ServiceLink
from mpc_runtime.preprocessing.provider import Provider
from mpc_runtime.transport.mesh import dial_service

__all__ = ["make_provider"]


async def make_provider(
    cfg: ClusterConfig, pid: int, spec: JobSpec, ctl: ServiceLink, deadline: Deadline
) -> tuple[Provider, ServiceLink | None]:
    """This party's provider for ``spec``, and the dealer link it opened (if any)."""
    index = cfg.party_ids.index(pid)
    if spec.preprocessing == "ot":
        from mpc_runtime.preprocessing.ot.provider import OTProvider

        return OTProvider(max_message_bytes=cfg.limits.max_frame_bytes // 2), None
    if cfg.dealer is not None:
        me = Identity.party(pid)
        ch = await dial_service(cfg, me, cfg.dealer, Identity.dealer(), deadline)
        link = ServiceLink(ch, spec.job_id, round_timeout=cfg.timeouts.round)
        link.start()
        return link.dealer_client(index), link
    if cfg.coordinator.embedded_dealer:
        return ctl.dealer_client(index), None
    raise ConfigError(
        f"job {spec.job_id} asks for a dealer but cluster {cfg.name!r} has no [dealer] endpoint"
        " (and the coordinator does not embed one)"
    )

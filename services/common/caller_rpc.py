"""Signed callers on nameko: the RPC entrypoint that verifies who calls, the proxy that says so.

Split from services.common.nameko_ext (still the only other module that knows nameko's
containers and entrypoints): `rpc` (the entrypoint a contract's operations are exposed
with), `CallerRpc` (a proxy that signs the calling service or forwards the user's token),
`CallerState` (this process's revoked sessions and verified-token cache), `SigningKeyCheck`
and `CallerContext`.
"""
from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
import uuid

from kombu import Queue
from nameko.exceptions import ContainerBeingKilled, IncorrectSignature, MalformedRequest
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.messaging import QueueConsumer
from nameko.rpc import Rpc, get_rpc_exchange

from . import caller, client_address, config, deadlines, fields
from .rpc_replies import ReplyChannels
from .errors import DomainError, ServiceUnavailable, Unauthorized
from .events import exchange


log = logging.getLogger(__name__)


# -- signed callers ------------------------------------------------------------------------------
class CallerState(SharedExtension):
    """One per container: the revoked-session list of this service process.

    Fed by identity's `user.session_revoked` broadcast (a queue of this process's
    own, bound to `identity.events`) and loaded from identity's `revoked_sessions`
    RPC when first needed. A service that keeps sessions itself (identity)
    defines `caller_session_revoked(self, sid)` and is asked instead.
    """

    queue_consumer = QueueConsumer()

    def setup(self):
        caller.verification_key()  # fail at start, not on the first call, if the key is missing
        self.revocations = caller.RevocationList()
        self._load_lock = threading.Lock()
        self.queue = Queue(f"qi.revocations.{self.container.service_name}.{uuid.uuid4().hex[:12]}",
                           exchange=exchange("identity"), routing_key="user.session_revoked",
                           auto_delete=True, exclusive=True, durable=False)
        self.queue_consumer.register_provider(self)

    def stop(self):
        self.queue_consumer.unregister_provider(self)
        super().stop()

    def handle_message(self, body, message):
        try:
            self.revocations.add_event(body)
        except Exception:  # a malformed event must not stop the feed
            log.warning("ignored malformed user.session_revoked event")
        finally:
            self.queue_consumer.ack_message(message)

    def _load(self) -> None:
        from nameko.standalone.rpc import ClusterRpcProxy
        with self._load_lock:
            if not self.revocations.needs_load():
                return
            try:
                with ClusterRpcProxy(self.container.config, timeout=config.rpc_timeout()) as proxy:
                    self.revocations.load(proxy.identity.revoked_sessions())
            except Exception as exc:
                if self.revocations.loaded:  # keep the list we have (the feed still adds to it)
                    log.warning("reloading revoked sessions failed (%s); keeping the current list", exc)
                    self.revocations.loaded_at = time.monotonic()
                    return
                raise ServiceUnavailable("Cannot check sessions: identity unreachable / 无法核验会话，身份服务不可达",
                                         code="identity_unavailable", retry_after=2) from exc

    def is_revoked(self, service, sid: str) -> bool:
        own = getattr(service, "caller_session_revoked", None)
        if own is not None:
            return bool(own(sid))
        if self.revocations.needs_load():
            self._load()
        return self.revocations.is_revoked(sid)

    def principal(self, service, context_data: dict, required: bool) -> dict | None:
        token = context_data.get(caller.TOKEN_KEY)
        if not token:
            if required:
                raise Unauthorized("Sign in first: no access token came with the call / 请先登录（调用未携带访问令牌）",
                                   code="token_missing")
            return None
        return caller.verify_caller(token, lambda sid: self.is_revoked(service, sid),
                                    ip=client_address.trusted_ip(context_data),
                                    request_id=context_data.get(caller.REQUEST_ID_KEY))


_CALL = "_qi_invocation"  # reserved keyword: only the entrypoint (in-process) sets it


class _Invocation:
    """What the entrypoint hands to the worker: the call's context data, unverified yet.

    The token is verified in the worker (not in the consumer), where an RPC to
    identity for the revocation list may wait without holding up message delivery.
    """

    __slots__ = ("entrypoint", "context_data")

    def __init__(self, entrypoint, context_data):
        self.entrypoint = entrypoint
        self.context_data = context_data

    def run(self, fn, service, args, kwargs):
        ep = self.entrypoint
        token = deadlines.activate(deadlines.parse(self.context_data.get(caller.DEADLINE_KEY)),
                                   ep.container.service_name, ep.method_name)
        try:
            deadlines.check("started")
            bound = ep.wire_signature.bind(*args, **kwargs)
            call_kwargs = {}
            for name, value in bound.arguments.items():
                if ep.wire_signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                    call_kwargs.update(value)
                else:
                    call_kwargs[name] = value
            # Ids, codes and tokens travel as bare arguments and reach databases too: the same
            # control-character rule as the schemas' text fields (the broker is not only the gateway).
            fields.check_call_arguments(**call_kwargs)
            if ep.caller_mode != "public":
                call_kwargs["principal"] = ep.caller_state.principal(service, self.context_data,
                                                                     required=ep.caller_mode == "required")
            return fn(service, **call_kwargs)
        finally:
            deadlines.reset(token)


_REPLIES: dict[tuple, ReplyChannels] = {}


def _reply_channels(config) -> ReplyChannels:
    """The process's reply channels for this broker (services.common.rpc_replies.ReplyChannels)."""
    key = (config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config).name)
    channels = _REPLIES.get(key)
    if channels is None:
        channels = _REPLIES[key] = ReplyChannels(key[0], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                                                 login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
                                                 exchange=key[1])
    return channels


class CallerRpc(Rpc):
    """nameko's RPC entrypoint, with the caller taken from the transport, never from the arguments.

    The method's signature says what it needs: a `principal` parameter without a
    default requires a verified caller (missing, forged, expired or revoked token:
    Unauthorized 401); `principal=None` takes one if a token came (a bad token is
    still a 401); no `principal` parameter is public. The verified principal is
    passed as the keyword `principal`; a `principal` sent by the caller is
    discarded, and positional arguments bind to the signature without it.

    A request picked up after the caller's deadline (`qi.deadline`) is answered
    with `deadline_exceeded` and counted, before any work.
    """

    caller_state = CallerState()

    def setup(self):
        super().setup()
        fn = getattr(self.container.service_cls, self.method_name)
        target = getattr(fn, "__qi_target__", None)
        if target is None:
            raise TypeError(f"{self.method_name}: use services.common.nameko_ext.rpc, not CallerRpc.decorator")
        params = list(inspect.signature(target).parameters.values())[1:]  # without self
        if any(p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) for p in params):
            raise TypeError(f"{self.method_name}: RPC methods take named parameters only")
        principal = next((p for p in params if p.name == "principal"), None)
        self.caller_mode = ("public" if principal is None
                            else getattr(fn, "__qi_caller__", None)
                            or ("required" if principal.default is inspect.Parameter.empty else "optional"))
        self.wire_signature = inspect.Signature([p for p in params if p.name != "principal"])

    def check_signature(self, args, kwargs):
        try:
            self.wire_signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise IncorrectSignature(str(exc))

    def handle_message(self, body, message):
        try:
            args = body["args"]
            kwargs = dict(body["kwargs"])
        except (KeyError, TypeError):
            raise MalformedRequest("Message missing `args` or `kwargs`")
        kwargs.pop("principal", None)  # never believed: the caller is proven by its token
        kwargs.pop(_CALL, None)
        self.check_signature(args, kwargs)
        context_data = self.unpack_message_headers(message)
        deadline = deadlines.parse(context_data.get(caller.DEADLINE_KEY))
        if deadline is not None and time.time() >= deadline:
            # Raised here, RpcConsumer replies with the error and acks: nothing was done.
            deadlines.EXPIRED.labels(self.container.service_name, self.method_name, "received").inc()
            log.warning("dropped %s.%s: picked up %.1fs after the caller's deadline", self.container.service_name,
                        self.method_name, time.time() - deadline)
            raise deadlines.expired_error()
        kwargs[_CALL] = _Invocation(self, context_data)
        try:
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=functools.partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.rpc_consumer.requeue_message(message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        """nameko's RpcConsumer.handle_result, with the reply published on a pooled channel
        without a confirm (rpc_replies.ReplyChannels), to a direct reply-to caller on the
        default exchange; the request is acknowledged after the reply was written, as before."""
        result, exc_info = _reply_channels(self.container.config).send(message.properties, result, exc_info)
        self.rpc_consumer.queue_consumer.ack_message(message)
        return result, exc_info


def rpc(fn=None, *, caller: str | None = None, expected_exceptions=DomainError, sensitive_arguments=()):
    """`@rpc` for every service: nameko's RPC entrypoint with verified callers (see CallerRpc).

    `caller="optional"` declares a public method whose `principal` parameter has no
    default (it comes first, before required parameters): anonymous calls get
    `principal=None`, a token is still verified.

    Called directly (nameko's worker_factory in unit tests), the method runs as
    written, with whatever principal the test passes.
    """
    if caller not in (None, "required", "optional"):
        raise ValueError(f"caller must be 'required' or 'optional', not {caller!r}")

    def decorate(method):
        @functools.wraps(method)
        def entry(self, *args, **kwargs):
            invocation = kwargs.pop(_CALL, None)
            if not isinstance(invocation, _Invocation):
                return method(self, *args, **kwargs)
            return invocation.run(method, self, args, kwargs)
        entry.__qi_target__ = method
        entry.__qi_caller__ = caller
        return CallerRpc.decorator(expected_exceptions=expected_exceptions,
                                   sensitive_arguments=sensitive_arguments)(entry)
    return decorate(fn) if fn is not None else decorate


class SigningKeyCheck(DependencyProvider):
    """Identity only: refuse to start without the token signing key (rather than fail every login)."""

    def setup(self):
        caller.signing_key()


class CallerContext(DependencyProvider):
    """For the gateway: what travels with every RPC its worker makes (nameko context data).

    `set(access_token=..., client_ip=..., request_id=..., deadline=...)`; nameko
    sends these as message headers and services propagate them downstream.
    """

    def get_dependency(self, worker_ctx):
        return _ContextWriter(worker_ctx)


class _ContextWriter:
    KEYS = {"access_token": caller.TOKEN_KEY, "client_ip": caller.CLIENT_IP_KEY,
            "request_id": caller.REQUEST_ID_KEY, "deadline": caller.DEADLINE_KEY}

    def __init__(self, worker_ctx):
        self.worker_ctx = worker_ctx

    def set(self, **values) -> None:
        for name, value in values.items():
            key = self.KEYS[name]
            if value is None:
                self.worker_ctx.data.pop(key, None)
            else:
                self.worker_ctx.data[key] = f"{value:.3f}" if name == "deadline" else str(value)
        # The address travels sealed for the deadline it goes with (services.common.client_address).
        client_address.seal(self.worker_ctx.data)

//! The connections of a store, from whichever source (`dialers.rs`), and running
//! commands on them.
//!
//! Requests share a few multiplexed connections instead of a pool: the
//! `session-connections` crate says why, and owns dialling, round robin and
//! forgetting. What is Redis's here: how to send, which failures break a connection
//! ([`CommandError::breaks_connection`]), and which commands may be sent again.
//!
//! # Retrying once after a restart
//!
//! A connection that served earlier requests may meet a server that restarted since:
//! its first command fails although Redis is back. Such a command is sent once more,
//! on a freshly dialled connection in the same slot, when sending it twice cannot apply
//! a write twice: reads, deletes and merges without an increment (setting the same
//! keys to the same values twice is one write). Creates (`SET … NX`), merges carrying
//! an increment (a second send would count it twice), the move script and
//! transactions are not repeated, since the first attempt may have been applied and a
//! second would then report the ID as taken or the session as gone: after a restart,
//! a new visitor's first save or a login can still fail once per stale connection. A
//! command Redis refused as read-only (a demoted master after a failover, also inside
//! a transaction) was not applied, and is always sent again.
//!
//! The window this leaves: a merge whose reply was lost although Redis applied it (a
//! connection reset after execution, the server still up) is applied again; a
//! parallel request's newer value for one of the same keys landing in between would be
//! overwritten by the older one, as if the retried request had saved last. The cluster
//! client follows redirects and reconnects by itself (`open.rs` bounds how often).

use std::future::Future;

use redis::{ErrorKind, FromRedisValue, RedisResult, ServerErrorKind};
use session_connections::{Dial, Slots};
use session_core::Error;

use crate::error::CommandError;
use crate::scripts::LuaScript;

/// A command, or the commands of a transaction (`MULTI` and `EXEC` around them), to
/// send. The reply is the command's, or `EXEC`'s.
pub(crate) enum Request {
    Cmd(redis::Cmd),
    Transaction(Vec<redis::Cmd>),
}

/// Whether a request may be sent a second time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Sending it twice has the effect of sending it once.
    Safe,
    /// A second send could see the first one's effect (a create, a transaction).
    Never,
}

/// Sends a request on one kind of connection.
pub(crate) trait Query {
    fn query<T: FromRedisValue + Send>(
        &mut self,
        request: Request,
    ) -> impl Future<Output = RedisResult<T>> + Send;
}

/// The connections of a store, by source. Each variant is the same [`Slots`] over
/// another dialer; the enum keeps the hot path free of boxed futures.
pub(crate) enum Connections {
    Url(Slots<crate::dialers::UrlDialer>),
    #[cfg(feature = "sentinel")]
    Sentinel(Slots<crate::dialers::SentinelDialer>),
    Multiplexed(Slots<crate::dialers::GivenNode<redis::aio::MultiplexedConnection>>),
    #[cfg(feature = "connection-manager")]
    Manager(Slots<crate::dialers::GivenNode<redis::aio::ConnectionManager>>),
    #[cfg(feature = "deadpool")]
    Pool(Slots<crate::dialers::PoolDialer>),
    #[cfg(feature = "cluster")]
    Cluster(Slots<crate::dialers::ClusterDialer>),
    #[cfg(feature = "cluster")]
    GivenCluster(Slots<crate::dialers::GivenCluster>),
}

impl Connections {
    /// True when keys may live on different nodes (no multi-key transactions).
    pub(crate) fn is_cluster(&self) -> bool {
        #[cfg(feature = "cluster")]
        if matches!(self, Self::Cluster(_) | Self::GivenCluster(_)) {
            return true;
        }
        false
    }

    /// Runs the request `build` makes, once or (see the module docs) twice. Bounded by
    /// the connect timeout (only when a connection must be dialled) and the driver's
    /// response timeout.
    pub(crate) async fn query<T: FromRedisValue + Send>(
        &self,
        operation: &'static str,
        repeat: Repeat,
        build: impl Fn() -> Request,
    ) -> Result<T, Error> {
        self.send(repeat, &build)
            .await
            .map_err(|error| Error::storage(operation, error))
    }

    /// Runs `script` with the keys and arguments `args` adds: by its SHA-1
    /// (`EVALSHA`), and whole (`EVAL`, which caches it again) when the server answers
    /// that it does not have it.
    pub(crate) async fn run_script<T: FromRedisValue + Send>(
        &self,
        operation: &'static str,
        repeat: Repeat,
        script: &LuaScript,
        args: impl Fn(&mut redis::Cmd),
    ) -> Result<T, Error> {
        let call = |command: &str, body: &str| {
            let mut cmd = redis::cmd(command);
            cmd.arg(body);
            args(&mut cmd);
            Request::Cmd(cmd)
        };
        let result = match self.send(repeat, &|| call("EVALSHA", &script.sha)).await {
            Err(CommandError::Refused(error))
                if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
            {
                // The script did not run, so sending it whole is always safe.
                self.send(repeat, &|| call("EVAL", script.text)).await
            }
            other => other,
        };
        result.map_err(|error| Error::storage(operation, error))
    }

    async fn send<T: FromRedisValue + Send>(
        &self,
        repeat: Repeat,
        build: &impl Fn() -> Request,
    ) -> Result<T, CommandError> {
        match self {
            Self::Url(slots) => run(slots, repeat, build).await,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(slots) => run(slots, repeat, build).await,
            Self::Multiplexed(slots) => run(slots, repeat, build).await,
            #[cfg(feature = "connection-manager")]
            Self::Manager(slots) => run(slots, repeat, build).await,
            #[cfg(feature = "deadpool")]
            Self::Pool(slots) => run(slots, repeat, build).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(slots) => run(slots, repeat, build).await,
            #[cfg(feature = "cluster")]
            Self::GivenCluster(slots) => run(slots, repeat, build).await,
        }
    }
}

/// Runs a request on a connection from `slots`, forgetting the connection when the
/// failure broke it, and sending it once more where the module docs allow.
async fn run<D, T>(
    slots: &Slots<D>,
    repeat: Repeat,
    build: &impl Fn() -> Request,
) -> Result<T, CommandError>
where
    D: Dial<Error = redis::RedisError>,
    D::Connection: Query,
    T: FromRedisValue + Send,
{
    let mut lease = slots.lease().await.map_err(CommandError::Connect)?;
    let first = lease.query(build()).await.map_err(CommandError::from);
    let error = match first {
        Ok(reply) => return Ok(reply),
        Err(error) => error,
    };
    if !error.breaks_connection() {
        return Err(error);
    }
    let again = match &error {
        CommandError::ReadOnly(_) => true,
        CommandError::Lost(_) => !lease.is_fresh() && repeat == Repeat::Safe,
        _ => false,
    };
    if !again {
        lease.forget();
        return Err(error);
    }
    let mut lease = slots.redial(lease).await.map_err(CommandError::Connect)?;
    let second = lease.query(build()).await.map_err(CommandError::from);
    if second.as_ref().is_err_and(CommandError::breaks_connection) {
        lease.forget();
    }
    second
}

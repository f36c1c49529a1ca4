//! Connections: a small pool of blocking connections with timeouts, behind the breaker.
//!
//! Each call checks a connection out of the pool (or opens one, bounded by the timeout), runs
//! one command or pipeline and puts it back, so threads never share a connection and at most
//! as many connections exist as threads are calling at once; at most [`MAX_IDLE`] are kept.
//! A pooled connection that turns out dead (the server restarted) is retried once on a fresh
//! one before the failure counts. Only connection failures (refused, timed out, dropped) feed
//! the breaker: a server-side error reply proves Redis is reachable.

use std::sync::Mutex;
use std::time::Duration;

use redis::{Client, Connection, RedisResult};

use crate::error::{RedisError, redact};
use kiln_cache::Breaker;

const MAX_IDLE: usize = 8;

pub(crate) struct Pool {
    client: Client,
    url: String,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    breaker: Breaker,
}

impl Pool {
    pub(crate) fn new(url: &str, timeout: Duration, breaker: Breaker) -> Result<Self, RedisError> {
        let shown = redact(url);
        let client = Client::open(url).map_err(|source| RedisError::Url {
            url: shown.clone(),
            source,
        })?;
        Ok(Self {
            client,
            url: shown,
            timeout,
            idle: Mutex::new(Vec::new()),
            breaker,
        })
    }

    /// The URL without its password.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Runs `f` on a connection, through the breaker.
    pub(crate) fn call<T>(
        &self,
        op: &'static str,
        mut f: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, RedisError> {
        if !self.breaker.allows() {
            return Err(RedisError::CircuitOpen {
                url: self.url.clone(),
            });
        }
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let result = match pooled {
            Some(mut con) => match f(&mut con) {
                Err(e) if is_connection_failure(&e) => {
                    tracing::debug!(url = %self.url, error = %e, "pooled Redis connection is dead, reconnecting");
                    self.fresh(&mut f)
                }
                other => other.map(|value| (value, con)),
            },
            None => self.fresh(&mut f),
        };
        match result {
            Ok((value, con)) => {
                self.breaker.success();
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(con);
                }
                Ok(value)
            }
            Err(source) => {
                if is_connection_failure(&source) {
                    self.breaker.failure(&self.url, &source);
                }
                Err(RedisError::Command {
                    url: self.url.clone(),
                    op,
                    source,
                })
            }
        }
    }

    fn fresh<T>(
        &self,
        f: &mut impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> RedisResult<(T, Connection)> {
        let mut con = self.client.get_connection_with_timeout(self.timeout)?;
        con.set_read_timeout(Some(self.timeout))?;
        con.set_write_timeout(Some(self.timeout))?;
        let value = f(&mut con)?;
        Ok((value, con))
    }
}

fn is_connection_failure(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_refusal() || e.is_connection_dropped()
}

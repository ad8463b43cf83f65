//! `ssh` as contract 1.2 has it: the 1.0 session (the same table entries, so a handle means
//! the same session whichever version imported it) plus `exec-all`, which runs commands on
//! several sessions at once, at most the operator's `LO_SSH_PARALLEL` at a time, answering in
//! the order asked. Nothing outlives the call: every command has the call's deadline.

use futures_util::StreamExt;
use wasmtime::component::Resource;

use super::{MAX_OUTPUT, MAX_SESSIONS, SshSession, same_index};
use crate::contract::ssh as v1_0;
use crate::contract::types::{DriverError, ExecOutput};
use crate::contract::v1_2::ssh as wit;
use crate::host::HostState;
use crate::host::refusal::{Call, granted};

impl wit::HostSession for HostState {
    async fn connect(&mut self, options: wit::ConnectOptions) -> Call<Resource<wit::Session>> {
        let options = v1_0::ConnectOptions {
            host: options.host,
            port: options.port,
            user: options.user,
            key: options.key,
            timeout_ms: options.timeout_ms,
        };
        let session = <HostState as v1_0::HostSession>::connect(self, options).await?;
        Ok(session.map(|s| Resource::new_own(s.rep())))
    }

    async fn exec(
        &mut self,
        session: Resource<wit::Session>,
        command: String,
        stdin: Option<Vec<u8>>,
    ) -> Call<ExecOutput> {
        <HostState as v1_0::HostSession>::exec(self, same_index(&session), command, stdin).await
    }

    async fn upload(
        &mut self,
        session: Resource<wit::Session>,
        path: String,
        contents: Vec<u8>,
        mode: u32,
    ) -> Call<()> {
        <HostState as v1_0::HostSession>::upload(self, same_index(&session), path, contents, mode)
            .await
    }

    async fn drop(&mut self, session: Resource<wit::Session>) -> wasmtime::Result<()> {
        <HostState as v1_0::HostSession>::drop(self, same_index(&session)).await
    }
}

impl wit::Host for HostState {
    async fn exec_all(
        &mut self,
        requests: Vec<wit::ExecRequest>,
    ) -> wasmtime::Result<Vec<Result<ExecOutput, DriverError>>> {
        let parallel = granted(&mut self.ssh, "ssh")?.parallel;
        if requests.len() > MAX_SESSIONS {
            let too_many = DriverError::Failed(format!(
                "ssh exec-all: {} requests; at most {MAX_SESSIONS} per call",
                requests.len()
            ));
            return Ok(requests.iter().map(|_| Err(too_many.clone())).collect());
        }
        let deadline = self.command_deadline();
        let cap = MAX_OUTPUT / requests.len().max(1);
        let mut sessions: Vec<&SshSession> = Vec::with_capacity(requests.len());
        for request in &requests {
            sessions.push(
                self.table
                    .get(&same_index::<_, SshSession>(&request.session))?,
            );
        }
        let mut runs = Vec::with_capacity(requests.len());
        for (session, request) in sessions.into_iter().zip(&requests) {
            runs.push(session.exec_capped(
                &request.command,
                request.stdin.as_deref(),
                deadline,
                cap,
            ));
        }
        // `buffered` keeps the order asked while running up to `parallel` at once.
        let answers = futures_util::stream::iter(runs)
            .buffered(parallel)
            .collect::<Vec<_>>()
            .await;
        Ok(answers)
    }
}

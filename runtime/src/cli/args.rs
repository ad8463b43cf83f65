//! Argument definitions.

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::settings::{PrivilegedMode, Settings};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "lo",
    version,
    about = "Provision Kubernetes clusters through sandboxed WebAssembly drivers",
    long_about = "Provision Kubernetes clusters through sandboxed WebAssembly drivers.\n\n\
        A project holds clusters/<domain>/cluster.lok8s.yaml; its `kind:` names the driver that \
        creates it. Drivers are WebAssembly components, pinned by sha256 in drivers.lock, that \
        reach only what they are granted.",
    after_help = "Examples:\n  lo provision dev.example.com\n  lo status -o json\n  lo use dev.example.com\n  lo drivers list",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// More output: -v for debug messages, -vv for trace.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Tell the driver the user accepts destructive repairs.
    #[arg(short, long, global = true)]
    pub force: bool,
    /// Provision on remote infrastructure (the spec's provider).
    #[arg(short = 'r', long, global = true)]
    pub remote: bool,
    /// Run only drivers pinned in drivers.lock and never change it.
    #[arg(long, global = true, env = "LO_LOCKED", hide_env_values = true, value_parser = FalseyValueParser::new())]
    pub locked: bool,
    /// A CI run: --locked and --plain. Most CI systems set CI=true.
    #[arg(long, global = true, env = "CI", hide_env_values = true, value_parser = FalseyValueParser::new())]
    pub ci: bool,
    /// Plain progress lines instead of bars (also when stderr is not a terminal).
    #[arg(long, global = true, env = "LO_PLAIN", hide_env_values = true, value_parser = FalseyValueParser::new())]
    pub plain: bool,
    /// The project root (default: the nearest ancestor holding clusters/).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The cluster domain (default: clusters/.active, then --default-domain, then lok8s.dev).
    #[arg(long = "domain", global = true, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// The domain when neither an argument nor clusters/.active names one.
    #[arg(
        long,
        global = true,
        env = "DOMAIN_NAME",
        hide_env_values = true,
        value_name = "DOMAIN"
    )]
    pub default_domain: Option<String>,
    /// Where compiled driver code is cached (default: the user's cache folder, lok8s/compiled);
    /// it must be private to the user.
    #[arg(
        long,
        global = true,
        env = "LO_CACHE_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub cache_dir: Option<PathBuf>,
    /// How privileged containers run: Docker's --privileged, or every capability the host has
    /// (for kernels that refuse --privileged with "unable to apply caps").
    #[arg(long, global = true, env = "LO_PRIVILEGED_MODE", hide_env_values = true, value_enum, default_value_t = PrivilegedMode::Privileged)]
    pub privileged_mode: PrivilegedMode,
    /// How many commands a driver's `ssh.exec-all` runs at once (1: one host after another).
    #[arg(long, global = true, env = "LO_SSH_PARALLEL", hide_env_values = true, value_name = "N", default_value_t = crate::host::ssh::DEFAULT_PARALLEL, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub ssh_parallel: u16,
    /// The local CA's folder, in mkcert's layout (default: mkcert's own).
    #[arg(
        long,
        global = true,
        env = "CAROOT",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub caroot: Option<PathBuf>,
    /// The Docker engine: unix:///path, tcp://host:port or ssh://[user@]host[:port]
    /// (default: unix:///var/run/docker.sock).
    #[arg(
        long,
        global = true,
        env = "DOCKER_HOST",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub docker_host: Option<String>,
    /// Output format for data.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Wall-clock limit per driver call, in seconds (overrides drivers.lock).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Guest CPU time limit per driver call, in seconds (overrides drivers.lock).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub cpu_seconds: Option<u64>,
    /// Driver memory limit in MiB (default 512; overrides drivers.lock).
    #[arg(long, global = true, value_name = "MIB")]
    pub memory_mib: Option<u64>,
}

/// How spec.bootstrap runs.
#[derive(Debug, Clone, Args)]
pub struct BootstrapArgs {
    /// Show the bootstrap plan (waves, gates, what each entry renders); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete and recreate objects an apply cannot change (an immutable field, a stuck
    /// deletion); their pods restart.
    #[arg(long, env = "LOK8S_FORCE_RECREATE", hide_env_values = true, value_parser = FalseyValueParser::new())]
    pub force_recreate: bool,
    /// Run only this entry (repeat it); entries it waits for are taken as applied.
    #[arg(long, value_name = "ENTRY")]
    pub only: Vec<String>,
    /// Leave this entry out (repeat it).
    #[arg(long, value_name = "ENTRY")]
    pub skip: Vec<String>,
    /// Keep objects that entries no longer render, and those of entries no longer listed
    /// (pruned by default; Namespaces and CRDs are always kept).
    #[arg(long)]
    pub no_prune: bool,
    /// Entries applied at once.
    #[arg(long, env = "LOK8S_BOOTSTRAP_PARALLEL", hide_env_values = true, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Seconds to wait for an entry's workloads when other entries wait for it (or it is a
    /// gate); not ready by then fails the entry.
    #[arg(
        long,
        env = "LOK8S_BOOTSTRAP_READY_TIMEOUT",
        hide_env_values = true,
        value_name = "SECONDS",
        default_value_t = 180
    )]
    pub ready_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Create or converge the cluster of a domain.
    #[command(
        visible_alias = "p",
        after_help = "Examples:\n  lo provision dev.example.com\n  lo p --domain dev.example.com -v"
    )]
    Provision {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
        /// Only the bootstrap, on the existing cluster: the driver's export, then
        /// spec.bootstrap (the same as `lo bootstrap`).
        #[arg(short = 'b', long = "bootstrap")]
        bootstrap_only: bool,
        #[command(flatten)]
        bootstrap: BootstrapArgs,
    },
    /// Apply spec.bootstrap on the existing cluster (with the driver's exported values).
    #[command(
        after_help = "Examples:\n  lo bootstrap dev.example.com\n  lo bootstrap --dry-run -o json\n  lo bootstrap --only metallb --force-recreate"
    )]
    Bootstrap {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
        #[command(flatten)]
        bootstrap: BootstrapArgs,
    },
    /// List the addons spec.bootstrap can name (the project's .lok8s/addons/ and lo's
    /// catalogue), or show some.
    #[command(after_help = "Examples:\n  lo addons\n  lo addons metallb cilium")]
    Addons {
        /// Addons to show in full.
        names: Vec<String>,
    },
    /// Remove the cluster of a domain.
    #[command(
        visible_alias = "down",
        after_help = "Examples:\n  lo destroy dev.example.com\n  lo down"
    )]
    Destroy {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
    },
    /// Show the cluster's state as its driver reports it.
    #[command(after_help = "Examples:\n  lo status\n  lo status dev.example.com -o json")]
    Status {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
    },
    /// Write the cluster's admin kubeconfig and print its path.
    #[command(
        visible_alias = "kc",
        after_help = "Example:\n  export KUBECONFIG=$(lo kc dev.example.com)"
    )]
    Kubeconfig {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
    },
    /// Use a cluster on a remote engine (DOCKER_HOST=ssh://…) from here: forward a local port to
    /// its API over ssh and write a kubeconfig naming it; runs until interrupted.
    #[command(
        after_help = "The kubeconfig is .kubeconfig/<name>.tunnel.yaml, removed when the tunnel stops.\n\n\
            Examples:\n  DOCKER_HOST=ssh://ops@build lo tunnel dev.example.com\n  \
            lo tunnel --port 6443 -o json   # one JSON line, then forwards"
    )]
    Tunnel {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
        /// The local port (default: any free one).
        #[arg(long, value_name = "PORT", default_value_t = 0)]
        port: u16,
    },
    /// Print the variables the cluster's driver exports (`export NAME='value'` lines for
    /// `eval`, or a map with -o json).
    #[command(after_help = "Examples:\n  eval \"$(lo env dev.example.com)\"\n  lo env -o json")]
    Env {
        /// The domain (a folder under clusters/); same as --domain.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
    },
    /// Set the active domain, or list domains when none is given.
    #[command(after_help = "Examples:\n  lo use dev.example.com\n  lo use")]
    Use {
        /// The domain to make active.
        #[arg(value_name = "DOMAIN")]
        target: Option<String>,
    },
    /// Print the JSON Schema of a kind's cluster spec (every field, its type and default), for
    /// editors and scripts; `lo provision` checks specs with it before the driver runs. A kind
    /// pinned in drivers.lock prints its component's schema (contract 1.1 `spec-schema`).
    #[command(
        after_help = "Examples:\n  lo schema lo > .lok8s/lo.schema.json\n  # then, first line of cluster.lok8s.yaml (yaml-language-server):\n  # yaml-language-server: $schema=../../.lok8s/lo.schema.json"
    )]
    Schema {
        /// The cluster kind: lo, capi, kubeone, kkp, or one pinned in drivers.lock (case does
        /// not matter).
        kind: String,
    },
    /// List, pin and inspect driver components.
    #[command(
        after_help = "Examples:\n  lo drivers list\n  lo drivers add k3s ./k3s.wasm\n  lo drivers show lo\n  lo drivers verify"
    )]
    Drivers {
        #[command(subcommand)]
        command: Option<DriversCommand>,
    },
    /// Tools for driver authors: check a component before pinning it.
    #[command(after_help = "Example:\n  lo driver check target/wasm32-wasip2/release/k3s.wasm")]
    Driver {
        #[command(subcommand)]
        command: DriverCommand,
    },
    /// Print lo's version and the contract versions it runs.
    Version,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DriverCommand {
    /// What a component targets, exports, imports and requests, and whether this lo would run
    /// it; exits 1 with the reasons when it would be refused.
    #[command(after_help = "Example:\n  lo driver check drivers/k3s.wasm -o json")]
    Check {
        /// The component file (.wasm).
        path: PathBuf,
    },
    /// Run the conformance sequence on a throwaway project: check, provision, status,
    /// kubeconfig, provision again, destroy, status NotFound, a malformed spec.
    #[command(after_help = "Example:\n  lo driver test drivers/k3s.wasm --spec spec.yaml")]
    Test {
        /// The component file (.wasm).
        path: PathBuf,
        /// A YAML file with what goes under `spec:` of the test cluster.
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
        /// Grant what the component requests, except host paths, ssh keys and project paths
        /// (name those in --grants). Without this or --grants, nothing is granted.
        #[arg(long)]
        grant_requests: bool,
        /// A TOML file with the grants, in the shape of [drivers.<kind>.grants] in drivers.lock.
        #[arg(long, value_name = "FILE", conflicts_with = "grant_requests")]
        grants: Option<PathBuf>,
        /// An environment variable the driver sees, if it is granted (repeat it). Nothing is
        /// taken from your own environment.
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Keep the throwaway project (its path is printed) instead of removing it.
        #[arg(long)]
        keep: bool,
    },
    /// Scaffold a driver project that builds as it is: the contract, a README and a justfile.
    #[command(
        after_help = "Example:\n  lo driver new k3s-docker --kind K3s && cd k3s-docker && just check"
    )]
    New {
        /// The driver's name: lowercase letters, digits and '-'.
        name: String,
        /// The guest language.
        #[arg(long, default_value = "rust", value_parser = clap::builder::PossibleValuesParser::new(crate::authoring::scaffold::LANGUAGES))]
        lang: String,
        /// The spec kind it provisions (default: the name in CamelCase).
        #[arg(long)]
        kind: Option<String>,
        /// Where to create it (default: the current folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum DriversCommand {
    /// Every kind this project can provision: built-in drivers and drivers.lock entries, with hashes.
    #[command(visible_alias = "ls")]
    List,
    /// Pin a component for a kind in drivers.lock, granting what it requests.
    #[command(after_help = "Example:\n  lo drivers add k3s drivers/k3s.wasm")]
    Add {
        /// The spec kind it provisions, such as K3s.
        kind: String,
        /// The component file (.wasm).
        path: PathBuf,
    },
    /// Update drivers.lock to the components on disk and pin the built-in drivers the specs use.
    Lock,
    /// Check every pinned component's sha256 against its bytes (compiles nothing).
    Verify,
    /// What a kind's driver is, what it requests and what it is granted.
    #[command(after_help = "Example:\n  lo drivers show lo")]
    Show {
        /// The spec kind, such as Lo.
        kind: String,
    },
}

impl Cli {
    /// The operator's settings, from flags and their environment variables.
    pub fn settings(&self) -> Settings {
        let g = &self.global;
        Settings {
            locked: g.locked || g.ci,
            plain: g.plain || g.ci,
            cache_dir: g.cache_dir.clone(),
            privileged_mode: g.privileged_mode,
            ssh_parallel: g.ssh_parallel.into(),
            caroot: g.caroot.clone(),
            default_domain: g.default_domain.clone(),
            docker_host: g.docker_host.clone().filter(|h| !h.is_empty()),
            login_user: crate::settings::login_user(),
        }
    }

    pub fn json(&self) -> bool {
        self.global.output == Output::Json
    }
}

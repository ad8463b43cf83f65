//! The clusters a cluster needs (`framework::dependencies`), handled around its driver: a
//! provision provisions the missing ones first (writing a local one's spec when the operator
//! asked for it); a destroy refreshes their kubeconfigs first and, after it succeeded, destroys
//! a local cluster lo created once no other cluster needs it.

use anyhow::{Context as _, anyhow};

use super::{BootstrapRequest, Options, Provisioned, Session, provision_after};
use crate::framework::dependencies::{self as deps, Step};
use crate::project::SpecFile;

/// Before `s`'s driver provisions: each needed cluster without a kubeconfig, provisioned
/// (`chain` holds the clusters already waiting on this one, to refuse a cycle).
pub(super) async fn provide(
    opts: &Options,
    s: &Session,
    request: &BootstrapRequest,
    chain: &[String],
) -> anyhow::Result<()> {
    let own = &s.spec.domain;
    let mut chain = chain.to_vec();
    chain.push(own.clone());
    for step in deps::steps(&opts.project, &s.needs) {
        let (domain, create) = match step {
            Step::Provision(d) => (d, false),
            Step::CreateLocal(d) => (d, true),
        };
        if let Some(at) = chain.iter().position(|d| d == &domain) {
            let mut cycle = chain[at..].to_vec();
            cycle.push(domain.clone());
            return Err(anyhow!(
                "clusters that need each other: {} (each one's driver reaches the next by domain, kube.clusters); \
                 provision one of them with a kubeconfig written by hand (.kubeconfig/secret.<domain>.yaml)",
                cycle.join(" -> ")
            ));
        }
        if request.dry_run {
            s.log.host_note(&format!(
                "{domain} has no kubeconfig yet: a provision would {} it first",
                if create {
                    "create and provision"
                } else {
                    "provision"
                }
            ));
            continue;
        }
        if create {
            let flag = s.needs.create_local.clone().unwrap_or_default();
            let path = deps::write_local_spec(
                &opts.project,
                &domain,
                &deps::local_spec(&domain, own, &flag),
            )?;
            s.log.host_note(&format!(
                "{flag} is true and {domain} has no spec: lo wrote {path} (a Lo cluster on this machine)"
            ));
        }
        s.log.host_note(&format!(
            "{own} needs {domain}, which has no kubeconfig yet: provisioning it first"
        ));
        let first = BootstrapRequest {
            only: false,
            dry_run: false,
            run: crate::framework::bootstrap::RunOptions {
                only: Vec::new(),
                skip: Vec::new(),
                ..request.run.clone()
            },
            quiet: request.quiet,
            skip: false,
        };
        let result = Box::pin(provision_after(opts, &domain, &first, &chain))
            .await
            .with_context(|| format!("provisioning {domain} first, which {own} needs"))?;
        if let Provisioned::Continued(after) = &result
            && let Some(report) = after.bootstrap.as_ref().filter(|r| !r.ok())
        {
            return Err(anyhow!(
                "provisioning {domain} first, which {own} needs: bootstrap: {}",
                report.summary()
            ));
        }
        s.log.host_note(&format!("{domain} is provisioned"));
    }
    // Every local cluster lo owns that this one uses is recorded, so its destroy knows.
    if s.needs.create_local.is_some() && !request.dry_run {
        for domain in &s.needs.domains {
            if deps::written_by_lo(&opts.project, domain) {
                deps::record_user(&opts.project, domain, own, true)?;
            }
        }
    }
    Ok(())
}

/// Before `s`'s driver destroys: a needed cluster with a spec but no kubeconfig gets its
/// kubeconfig from its own driver (so the teardown can reach it); failures are left to the
/// driver, which says what it could not reach.
pub(super) async fn refresh(opts: &Options, s: &Session) {
    for step in deps::steps(&opts.project, &s.needs) {
        if let Step::Provision(domain) = step
            && let Err(e) = Box::pin(super::kubeconfig(opts, &domain)).await
        {
            s.log.host_note(&format!(
                "no kubeconfig for {domain}, which {} needs: {e:#}",
                s.spec.domain
            ));
        }
    }
}

/// After `s`'s driver destroyed its cluster: each local cluster lo created that no other
/// cluster needs any more, destroyed with its spec.
pub(super) async fn release(opts: &Options, s: &Session) -> anyhow::Result<()> {
    let own = &s.spec.domain;
    for domain in &s.needs.domains {
        if !deps::users(&opts.project, domain).contains(own) {
            continue;
        }
        let left = deps::record_user(&opts.project, domain, own, false)?;
        if !left.is_empty() {
            s.log.host_note(&format!(
                "{domain} stays: {} still need{} it",
                left.join(", "),
                if left.len() == 1 { "s" } else { "" }
            ));
            continue;
        }
        if !deps::written_by_lo(&opts.project, domain) {
            s.log.host_note(&format!(
                "{domain} stays: its spec is yours now (its first line is not lo's)"
            ));
            continue;
        }
        s.log.host_note(&format!(
            "destroying {domain}, the local cluster lo created for {own}"
        ));
        Box::pin(super::destroy(opts, domain))
            .await
            .with_context(|| format!("destroying {domain}, which lo created for {own}"))?;
        // Its kubeconfig, spec and driver's state go with it; anything else the user put in its
        // folder stays, and so does the folder then.
        if let Ok(SpecFile::Cluster(spec)) = SpecFile::load(&opts.project, domain)
            && let Ok(published) = opts.project.kubeconfigs()
        {
            published.remove(&format!("{}.yaml", spec.name))?;
        }
        let root = opts.project.inside()?;
        let folder = root.subdir(&format!("clusters/{domain}"), false)?;
        folder.remove_tree(".state")?;
        folder.remove("cluster.lok8s.yaml")?;
        root.remove_empty_dir(&format!("clusters/{domain}"));
    }
    Ok(())
}

/// Before `domain` is destroyed by itself: refused while clusters recorded as needing it are
/// there, unless the user passed `--force` ([`forget`] drops the record once it is gone).
pub(super) fn check_unneeded(opts: &Options, domain: &str) -> anyhow::Result<()> {
    let users = deps::users(&opts.project, domain);
    if !users.is_empty() && !opts.force {
        return Err(anyhow!(
            "{domain} is the local cluster lo created for {users}, which need{s} it: destroy {users} \
             first (that destroys {domain} too), or pass --force to destroy it anyway",
            users = users.join(", "),
            s = if users.len() == 1 { "s" } else { "" },
        ));
    }
    Ok(())
}

/// After `domain` was destroyed: nobody needs it any more.
pub(super) fn forget(opts: &Options, domain: &str) -> anyhow::Result<()> {
    deps::forget(&opts.project, domain)
}

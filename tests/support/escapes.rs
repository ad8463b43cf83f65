//! The escape attempts' expected refusals, shared by the hostile suite (one Rust component
//! per attempt) and the languages suite (the same attempts in Python and JavaScript).

/// What lo's refusal says, per escape attempt (the component's name under tests/hostile/).
pub fn refusal(name: &str) -> Option<&'static str> {
    Some(match name {
        "read-host-file"
        | "write-outside-project"
        | "symlink-escape"
        | "read-other-domain"
        | "read-lock-file" => "os error",
        "env-ungranted" => "HOSTILE_SECRET is not visible",
        "memory-bomb" => "hit the memory limit",
        "endless-loop" => "ran out of CPU time",
        "endless-host-waits" => "timed out after 5s of wall-clock time",
        "log-flood" => "output cut: the driver printed more than 8 MiB",
        "terminal-takeover" => "terminal sequences sent",
        // Linked (language runtimes import it) but refused at use: nothing leaves.
        "raw-socket" => "provision: Permission denied",
        "http-ungranted-import" => "lok8s:driver/http@1.2.0: not granted",
        "http-unlisted-origin" => "denied: http GET http://127.0.0.1:2",
        "http-loopback-by-name" => "a loopback address",
        "docker-ungranted-import" => "lok8s:driver/docker@1.2.0: not granted",
        "docker-privileged" => "privileged containers need privileged = true",
        "docker-socket-mount" | "docker-host-path" => "bind mount of host path",
        "docker-foreign-container" | "docker-foreign-exec" => {
            "does not belong to cluster hostile.dev"
        }
        "docker-forged-labels" => "labels under dev.lok8s. are set by lo",
        "ssh-unlisted-host" => "denied: ssh connect root@127.0.0.1:22",
        "ssh-ungranted-key" => "denied: ssh key \"/etc/passwd\"",
        "kube-other-namespace" => "ConfigMap in namespace default",
        "kube-other-kind" => "Secret in namespace kube-system",
        "kube-foreign-kubeconfig" => "a driver uses its own cluster's kubeconfig",
        "tls-ungranted-name" => "denied: tls issue for \"bank.example.com\"",
        _ => return None,
    })
}

//! `lok8s-test-images`: builds the stand-in node and registry images the tests use (this
//! machine cannot pull `kindest/node` or `registry`) and prints their tags, for `just demo`.
//! The stand-in binary is the `lok8s-node-standin` next to this one.

fn main() {
    let exe = std::env::current_exe().expect("own path");
    let standin = exe.with_file_name("lok8s-node-standin");
    if !standin.is_file() {
        eprintln!(
            "{} is missing: build it with `cargo build -p lok8s-tests --bins`",
            standin.display()
        );
        std::process::exit(1);
    }
    println!("node={}", lok8s_tests::images::node_image(&standin));
    println!("registry={}", lok8s_tests::images::registry_image());
    println!("k3s={}", lok8s_tests::images::k3s_image(&standin));
}

fn main() -> std::process::ExitCode {
    lok8s::cli::main()
}

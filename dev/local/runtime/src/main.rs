//! `thumbstack-local`: the flags and the verbs are the library's (`thumbstack_local::main`).

fn main() -> std::process::ExitCode {
    thumbstack_local::main()
}

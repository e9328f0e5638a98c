// A callback's arguments stay on the main thread (src/thread.rs).
fn cmd(_ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let name: &rm::RStr = args[1];
    std::thread::spawn(move || name.as_bytes().len());
    Ok(())
}

fn main() {
    let _ = cmd;
}

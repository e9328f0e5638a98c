// The twin of ../arg_spawned.rs: the argument's bytes are copied, and the copy crosses.
fn cmd(_ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let name: Vec<u8> = args[1].as_bytes().to_vec();
    std::thread::spawn(move || name.len());
    Ok(())
}

fn main() {
    let _ = cmd;
}

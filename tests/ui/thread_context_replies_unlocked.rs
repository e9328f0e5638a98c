// A thread-safe context offers no reply method until locked (src/thread.rs).
fn work(tsc: rm::ThreadSafeContext) {
    tsc.reply_ok();
}

fn main() {
    let _ = work;
}

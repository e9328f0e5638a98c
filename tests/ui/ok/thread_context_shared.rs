// The twin of ../thread_context_shared.rs: the context is moved to one thread.
fn work(tsc: rm::ThreadSafeContext) {
    std::thread::scope(|s| {
        s.spawn(move || drop(tsc.lock()));
    });
}

fn main() {
    let _ = work;
}

namespace Analytics.Staff;

/// <summary>
/// Sign-in attempts per client address: at most <see cref="FailuresPerMinute"/> failed ones in a
/// minute, after which the address is refused until the minute is over. An attempt takes a place
/// before the password is checked; when the failures so far and the attempts in progress would
/// reach the limit, the next attempt waits for one of them to end (a success gives its place back,
/// a failure keeps it). So parallel guesses cannot slip past the limit, and parallel sign-ins with
/// the right password (scripts, test suites) wait a moment instead of being refused.
/// Password checks (PBKDF2, ~80 ms of a core each) also run at most one per core at a time, so
/// a flood of sign-ins queues instead of taking every core. Kept in each node's memory: with N
/// nodes behind a balancer an address gets N times the allowance.
/// </summary>
internal sealed class LoginThrottle(TimeProvider time)
{
    public const int FailuresPerMinute = 10;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Attempts> _clients = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _checks = new(Environment.ProcessorCount, Environment.ProcessorCount);

    /// <summary>
    /// Takes a place for one attempt from the request's address, waiting while the attempts in
    /// progress could still use up the allowance; null when the address has used up this minute's
    /// failures. Dispose the attempt; call <see cref="Attempt.Succeeded"/> first when the password
    /// was right.
    /// </summary>
    public async Task<Attempt?> BeginAsync(HttpContext context)
    {
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "";
        while (true)
        {
            Task ended;
            lock (_gate)
            {
                var now = time.GetUtcNow();
                if (_clients.Count > 10_000)
                {
                    // Forget the addresses whose minute is over and that have nothing in progress.
                    foreach (var (key, _) in _clients.Where(c => c.Value.InProgress == 0 && now - c.Value.Since >= Window).ToList())
                    {
                        _clients.Remove(key);
                    }
                }

                if (!_clients.TryGetValue(client, out var attempts))
                {
                    attempts = new Attempts(now);
                    _clients[client] = attempts;
                }
                else if (now - attempts.Since >= Window)
                {
                    // A new minute: its failures start from 0 (attempts still in progress carry over).
                    (attempts.Since, attempts.Failures) = (now, 0);
                }

                if (attempts.Failures >= FailuresPerMinute)
                {
                    return null;
                }

                if (attempts.Failures + attempts.InProgress < FailuresPerMinute)
                {
                    attempts.InProgress++;
                    return new Attempt(this, attempts);
                }

                ended = (attempts.Ended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await ended.WaitAsync(context.RequestAborted);
        }
    }

    /// <summary>Runs a password check when a core is free for it.</summary>
    public async Task<bool> CheckAsync(Func<bool> check, CancellationToken cancellationToken)
    {
        await _checks.WaitAsync(cancellationToken);
        try
        {
            return check();
        }
        finally
        {
            _checks.Release();
        }
    }

    private void End(Attempts attempts, bool succeeded)
    {
        TaskCompletionSource? ended;
        lock (_gate)
        {
            attempts.InProgress--;
            if (!succeeded)
            {
                attempts.Failures++;
            }

            (ended, attempts.Ended) = (attempts.Ended, null);
        }

        ended?.TrySetResult();
    }

    internal sealed class Attempts(DateTimeOffset since)
    {
        /// <summary>When this address's current minute began.</summary>
        public DateTimeOffset Since { get; set; } = since;

        public int Failures { get; set; }

        public int InProgress { get; set; }

        /// <summary>Completed when an attempt in progress ends (for those waiting for a place).</summary>
        public TaskCompletionSource? Ended { get; set; }
    }

    /// <summary>One sign-in attempt's place in its address's allowance: a failure unless it succeeded.</summary>
    public sealed class Attempt : IDisposable
    {
        private readonly LoginThrottle _throttle;
        private readonly Attempts _attempts;
        private bool _succeeded;
        private bool _ended;

        internal Attempt(LoginThrottle throttle, Attempts attempts) => (_throttle, _attempts) = (throttle, attempts);

        public void Succeeded() => _succeeded = true;

        public void Dispose()
        {
            if (!_ended)
            {
                _ended = true;
                _throttle.End(_attempts, _succeeded);
            }
        }
    }
}

namespace Analytics.Staff;

/// <summary>
/// Sign-in attempts per client address: at most <see cref="FailuresPerMinute"/> failed ones in a
/// minute, after which the address is refused until the minute is over. An attempt takes its
/// place before the password is checked and gives it back when it succeeds, so parallel guesses
/// cannot slip past the limit, and scripts and tests that sign in often are never locked out.
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
    /// Takes a place for one attempt from the request's address; null when the address has used up
    /// this minute's failures. Dispose the attempt; call <see cref="Attempt.Succeeded"/> first when
    /// the password was right.
    /// </summary>
    public Attempt? TryBegin(HttpContext context)
    {
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "";
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (_clients.Count > 10_000)
            {
                // Forget the addresses whose minute is over, so the table stays small.
                foreach (var (key, old) in _clients.Where(c => now - c.Value.Since >= Window).ToList())
                {
                    _clients.Remove(key);
                }
            }

            if (!_clients.TryGetValue(client, out var attempts) || now - attempts.Since >= Window)
            {
                attempts = new Attempts(now);
                _clients[client] = attempts;
            }

            if (attempts.Taken >= FailuresPerMinute)
            {
                return null;
            }

            attempts.Taken++;
            return new Attempt(this, attempts);
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

    private void GiveBack(Attempts attempts)
    {
        lock (_gate)
        {
            attempts.Taken--;
        }
    }

    internal sealed class Attempts(DateTimeOffset since)
    {
        public DateTimeOffset Since { get; } = since;

        public int Taken { get; set; }
    }

    /// <summary>One sign-in attempt's place in its address's allowance: kept (a failure) unless it succeeded.</summary>
    public sealed class Attempt : IDisposable
    {
        private readonly LoginThrottle _throttle;
        private readonly Attempts _attempts;
        private bool _succeeded;

        internal Attempt(LoginThrottle throttle, Attempts attempts) => (_throttle, _attempts) = (throttle, attempts);

        public void Succeeded() => _succeeded = true;

        public void Dispose()
        {
            if (_succeeded)
            {
                _succeeded = false;
                _throttle.GiveBack(_attempts);
            }
        }
    }
}

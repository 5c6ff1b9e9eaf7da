namespace Analytics.Staff;

/// <summary>
/// Sign-in attempts per client address: at most <see cref="FailuresPerMinute"/> failed ones in a
/// minute, after which the address is refused until the minute is over. An attempt takes a place
/// before the password is checked; when the failures so far and the attempts in progress would
/// reach the limit, the next attempts queue (first come, first served; at most
/// <see cref="MaxWaiting"/>, beyond that refused) and each gets the place an attempt gives back
/// when it succeeds (or ends without a check) — a failure keeps its place. So parallel guesses cannot slip past the limit,
/// and parallel sign-ins with the right password (scripts, test suites) wait a moment instead of
/// being refused. Password checks (PBKDF2, ~80 ms of a core each) also run at most one per core at
/// a time, so a flood of sign-ins queues instead of taking every core. Kept in each node's memory:
/// with N nodes behind a balancer an address gets N times the allowance.
/// </summary>
internal sealed class LoginThrottle(TimeProvider time)
{
    public const int FailuresPerMinute = 10;

    /// <summary>Attempts of one address that may wait for a place; more are refused at once.</summary>
    public const int MaxWaiting = 100;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Attempts> _clients = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _checks = new(Environment.ProcessorCount, Environment.ProcessorCount);

    /// <summary>
    /// Takes a place for one attempt from the request's address, waiting in line while the attempts
    /// in progress could still use up the allowance; null when the address has used up this
    /// minute's failures (or too many of its attempts wait already). Dispose the attempt; call
    /// <see cref="Attempt.Failed"/> first when the password was checked and wrong.
    /// </summary>
    public async Task<Attempt?> BeginAsync(HttpContext context)
    {
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "";
        TaskCompletionSource<Attempt?> place;
        LinkedListNode<TaskCompletionSource<Attempt?>> inLine;
        Attempts attempts;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_clients.Count > 10_000)
            {
                // Forget the addresses whose minute is over and that have nothing going on.
                foreach (var (key, _) in _clients.Where(c => c.Value.Idle && now - c.Value.Since >= Window).ToList())
                {
                    _clients.Remove(key);
                }
            }

            if (!_clients.TryGetValue(client, out attempts!))
            {
                attempts = new Attempts(now);
                _clients[client] = attempts;
            }

            HandOutLocked(attempts);
            if (attempts.Failures >= FailuresPerMinute)
            {
                return null;
            }

            if (attempts.Waiting.Count == 0 && attempts.Failures + attempts.InProgress < FailuresPerMinute)
            {
                attempts.InProgress++;
                return new Attempt(this, attempts);
            }

            if (attempts.Waiting.Count >= MaxWaiting)
            {
                return null;
            }

            place = new TaskCompletionSource<Attempt?>(TaskCreationOptions.RunContinuationsAsynchronously);
            inLine = attempts.Waiting.AddLast(place);
        }

        // A client that gives up leaves the line (its place, if one was just handed to it, is given
        // back when the attempt it got is disposed).
        await using var leave = context.RequestAborted.Register(() =>
        {
            lock (_gate)
            {
                if (inLine.List is not null)
                {
                    attempts.Waiting.Remove(inLine);
                    place.TrySetCanceled();
                }
            }
        });
        return await place.Task;
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

    private void End(Attempts attempts, bool failed)
    {
        lock (_gate)
        {
            attempts.InProgress--;
            if (failed)
            {
                attempts.Failures++;
            }

            HandOutLocked(attempts);
        }
    }

    /// <summary>
    /// Starts a new minute when the last is over, then gives the free places to the attempts waiting,
    /// first come first served; once the minute's failures are used up, every waiting attempt is refused.
    /// </summary>
    private void HandOutLocked(Attempts attempts)
    {
        var now = time.GetUtcNow();
        if (now - attempts.Since >= Window)
        {
            // A new minute: its failures start from 0 (attempts still in progress carry over).
            (attempts.Since, attempts.Failures) = (now, 0);
        }

        while (attempts.Waiting.First is { } first && (attempts.Failures >= FailuresPerMinute || attempts.Failures + attempts.InProgress < FailuresPerMinute))
        {
            attempts.Waiting.RemoveFirst();
            if (attempts.Failures >= FailuresPerMinute)
            {
                first.Value.TrySetResult(null);
            }
            else
            {
                attempts.InProgress++;
                first.Value.TrySetResult(new Attempt(this, attempts));
            }
        }
    }

    internal sealed class Attempts(DateTimeOffset since)
    {
        /// <summary>When this address's current minute began.</summary>
        public DateTimeOffset Since { get; set; } = since;

        public int Failures { get; set; }

        public int InProgress { get; set; }

        /// <summary>Attempts waiting for a place, in the order they came.</summary>
        public LinkedList<TaskCompletionSource<Attempt?>> Waiting { get; } = [];

        public bool Idle => InProgress == 0 && Waiting.Count == 0;
    }

    /// <summary>
    /// One sign-in attempt's place in its address's allowance: kept as a failure when the password
    /// was checked and wrong (<see cref="Failed"/>), given back otherwise (right, or never checked).
    /// </summary>
    public sealed class Attempt : IDisposable
    {
        private readonly LoginThrottle _throttle;
        private readonly Attempts _attempts;
        private bool _failed;
        private bool _ended;

        internal Attempt(LoginThrottle throttle, Attempts attempts) => (_throttle, _attempts) = (throttle, attempts);

        public void Failed() => _failed = true;

        public void Dispose()
        {
            if (!_ended)
            {
                _ended = true;
                _throttle.End(_attempts, _failed);
            }
        }
    }
}

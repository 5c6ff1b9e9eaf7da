using System.Diagnostics;
using System.Threading.Channels;
using Analytics.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Counting;

/// <summary>
/// Group commit of page views into Redis. Request threads add hits to the open batch and await
/// it; a batch is written (summed per site, day, page and referrer) in one pipelined round trip,
/// and all its requests complete together. Up to <see cref="CountingOptions.MaxWritesInFlight"/>
/// batches are on the wire at once, so the busier the service the bigger the batches: never a
/// round trip per hit.
///
/// Exactness: every batch has a sequence number of this writer. A Lua script applies a batch only
/// if that number is not yet in the writer's record, and records it in the same atomic step, with
/// the days marked changed for the rollup. On one Redis server the whole batch is one script call
/// with one record for the writer; on a cluster, one call per site with a record per site (all of
/// a site's keys share its slot). So a batch whose answer was lost can be sent again, in any order
/// with others, and is never counted twice. The record is trimmed to the numbers still unresolved
/// here, so it stays a handful of entries.
///
/// While Redis is unreachable, batches are held in memory (bounded; acknowledged to clients) and
/// written when it is back.
/// </summary>
internal sealed partial class CounterWriter : BackgroundService
{
    internal const string ApplyScript = """
        -- KEYS: the record of batches applied (a sorted set of sequence numbers), then per site:
        -- total, changed days, generation, then per day: day, pages, referrers, visitors, then the
        -- Idempotency-Key of a server-side batch kept apart with its answer (at most one).
        -- ARGV: sequence, lowest unresolved sequence, record ttl, answers' ttl, then per part
        -- (a site, or one such batch): number of days, generation, number of answers (0 or 1),
        -- then per day: date, views, #pages, #referrers, #visitors, page/views pairs,
        -- referrer/views pairs, visitor hashes; then the answer.
        -- Returns 1 when applied, 0 when the record already had the batch.
        local record, sequence = KEYS[1], ARGV[1]
        if redis.call('ZSCORE', record, sequence) then
          return 0
        end
        redis.call('ZADD', record, sequence, sequence)
        -- Trimming to the unresolved batches and renewing the expiry every 16th batch keeps the
        -- record a handful of entries; a new record gets its expiry at once.
        if tonumber(sequence) % 16 == 0 or redis.call('ZCARD', record) == 1 then
          redis.call('ZREMRANGEBYSCORE', record, '-inf', '(' .. ARGV[2])
          redis.call('EXPIRE', record, ARGV[3])
        end
        local a, k = 5, 2
        while a <= #ARGV do
          local days, generation, answers = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])
          local total, dirty = KEYS[k], KEYS[k + 1]
          -- Only under the generation the hits were checked against: not for a site deleted
          -- since, nor for one made again under its id. None recorded (a site from before them),
          -- or none sent (a node from before them): live unless deleted.
          local current = redis.call('GET', KEYS[k + 2])
          local live = not current or current == generation or (generation == '' and current ~= 'deleted')
          -- A server-side batch whose Idempotency-Key holds an answer already was counted (by a
          -- node that reached Redis while this one held the batch past the key's pending mark).
          if answers > 0 then
            local earlier = redis.call('GET', KEYS[k + 3 + 4 * days])
            if earlier and earlier ~= '' then
              live = false
            end
          end
          a, k = a + 3, k + 3
          local views = 0
          for d = 1, days do
            local date, dayViews = ARGV[a], tonumber(ARGV[a + 1])
            local pages, referrers, visitors = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
            a = a + 5
            if live then
              redis.call('SADD', dirty, date)
              redis.call('HINCRBY', KEYS[k], 'views', dayViews)
              for i = 1, pages do
                redis.call('HINCRBY', KEYS[k + 1], ARGV[a], ARGV[a + 1])
                a = a + 2
              end
              for i = 1, referrers do
                redis.call('HINCRBY', KEYS[k + 2], ARGV[a], ARGV[a + 1])
                a = a + 2
              end
              local added = 0
              while added < visitors do
                local n = math.min(visitors - added, 1000)
                redis.call('PFADD', KEYS[k + 3], unpack(ARGV, a, a + n - 1))
                a = a + n
                added = added + n
              end
            else
              a = a + 2 * (pages + referrers) + visitors
            end
            views = views + dayViews
            k = k + 4
          end
          if live then
            redis.call('INCRBY', total, views)
          end
          -- A server-side batch's answer, kept under its Idempotency-Key in the same atomic step
          -- as its counts: a retry finds either the answer or nothing counted.
          for r = 1, answers do
            if live then
              redis.call('SET', KEYS[k], ARGV[a], 'EX', ARGV[4])
            end
            a, k = a + 1, k + 1
          end
        end
        return 1
        """;

    private static readonly RedisValue AppliedTtlSeconds = (long)TimeSpan.FromDays(7).TotalSeconds;

    /// <summary>How long a batch's answer is kept under its Idempotency-Key.</summary>
    public static readonly TimeSpan AnswerKeptFor = TimeSpan.FromDays(1);

    private readonly IConnectionMultiplexer _redis;
    private readonly CountingOptions _options;
    private readonly ILogger<CounterWriter> _logger;
    private readonly AnalyticsMetrics _metrics;
    private readonly Channel<byte> _signal = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Lock _gate = new();
    private readonly string _writerId = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    // Guarded by _gate.
    private readonly SortedSet<long> _unresolved = [];
    private readonly List<Batch> _failed = [];
    private Batch _open = new();
    private Batch? _held;
    private long _sequence;
    private int _inFlight;

    private long _bufferedHits;
    private volatile bool _redisUnreachable;


    public CounterWriter(IConnectionMultiplexer redis, IOptions<CountingOptions> options, AnalyticsMetrics metrics, ILogger<CounterWriter> logger)
    {
        _redis = redis;
        _options = options.Value;
        _logger = logger;
        _metrics = metrics;
        metrics.ObserveBufferedHits(() => BufferedHits);
    }

    /// <summary>Raised after a batch is in Redis, with the sites it touched (the live publisher listens).</summary>
    public event Action<IReadOnlyCollection<string>>? Committed;

    /// <summary>Hits acknowledged while Redis was unreachable and not yet written.</summary>
    public long BufferedHits => Interlocked.Read(ref _bufferedHits);

    /// <summary>Counts one hit; the task completes once Redis has it (or it is held while Redis is away).</summary>
    public Task CountAsync(in Hit hit)
    {
        Task committed;
        lock (_gate)
        {
            RefuseWhenFull(1);
            _open.Add(hit);
            committed = _open.Committed.Task;
        }

        _signal.Writer.TryWrite(0);
        return committed;
    }

    /// <summary>
    /// Counts a site's hits; with <paramref name="answer"/> (an Idempotency-Key and the batch's
    /// answer), the answer is stored in the same atomic step as the counts, for
    /// <see cref="AnswerKeptFor"/>. All hits must be of one site. True once Redis has them; false
    /// when they are held in memory while Redis is away (written, with the answer, when it is back).
    /// </summary>
    public Task<bool> CountAsync(IReadOnlyList<Hit> hits, (RedisKey Key, RedisValue Json)? answer = null)
    {
        if (hits.Count == 0)
        {
            return Task.FromResult(true);
        }

        Task<bool> committed;
        lock (_gate)
        {
            RefuseWhenFull(hits.Count);
            if (answer is { } kept)
            {
                _open.AddAnswered(hits, kept.Key, kept.Json);
            }
            else
            {
                foreach (var hit in hits)
                {
                    _open.Add(hit);
                }
            }

            committed = _open.Committed.Task;
        }

        _signal.Writer.TryWrite(0);
        return committed;
    }

    private void RefuseWhenFull(int hits)
    {
        if (_redisUnreachable && Interlocked.Read(ref _bufferedHits) + _open.Hits + hits > _options.MaxBufferedHits)
        {
            throw new CountingUnavailableException($"Redis is unreachable and {_options.MaxBufferedHits} hits are already held in memory.");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retryDelay = _options.RetryDelay;
        var retryAt = DateTime.MinValue;
        Task<bool>? signalled = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // Normally wait for hits; while Redis is away, for the back-off (or, with writes
                // still on the wire, for their outcome, which signals too).
                var waitForRetry = _redisUnreachable && Volatile.Read(ref _inFlight) == 0 ? retryAt - DateTime.UtcNow : Timeout.InfiniteTimeSpan;
                if (waitForRetry == Timeout.InfiniteTimeSpan)
                {
                    if (signalled is { } pending)
                    {
                        await pending;
                        signalled = null;
                    }
                    else
                    {
                        await _signal.Reader.WaitToReadAsync(stoppingToken);
                    }
                }
                else if (waitForRetry > TimeSpan.Zero)
                {
                    // One wait for a signal at a time, kept across back-off timeouts (a new one each
                    // time would leave a waiter behind in the channel for every timeout).
                    signalled ??= _signal.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    await Task.WhenAny(signalled, Task.Delay(waitForRetry, stoppingToken));
                    if (signalled.IsCompleted)
                    {
                        signalled = null;
                    }
                }

                _signal.Reader.TryRead(out _);

                if (_redisUnreachable)
                {
                    // Hold what comes in (acknowledged); try Redis again when the back-off is over.
                    HoldOpenBatch();
                    if (DateTime.UtcNow >= retryAt && Volatile.Read(ref _inFlight) == 0)
                    {
                        if (await RetryAsync())
                        {
                            retryDelay = _options.RetryDelay;
                        }
                        else
                        {
                            retryAt = DateTime.UtcNow + retryDelay;
                            retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _options.MaxRetryDelay.Ticks));
                        }
                    }

                    continue;
                }

                retryAt = DateTime.UtcNow + retryDelay;
                // Let the requests already queued on the thread pool add their hits first: a bigger
                // batch for the price of one queue hop, not a timer.
                await Task.Yield();
                while (Volatile.Read(ref _inFlight) < _options.MaxWritesInFlight && TakeOpenBatch() is { } batch)
                {
                    Launch(batch);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await WriteRemainingAsync();
    }

    /// <summary>Writes a batch in the background; its completion wakes the loop for the next one.</summary>
    private void Launch(Batch batch)
    {
        Interlocked.Increment(ref _inFlight);
        _ = WriteThenSignalAsync(batch);

        async Task WriteThenSignalAsync(Batch batch)
        {
            try
            {
                await TryWriteAsync(batch);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
                _signal.Writer.TryWrite(0);
            }
        }
    }

    /// <summary>Writes one batch; on failure keeps it (acknowledged) for a retry. True when written.</summary>
    private async Task<bool> TryWriteAsync(Batch batch)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await WriteAsync(batch);
        }
        catch (Exception e)
        {
            // Whatever went wrong (Redis away or refusing, the connection closing at shutdown), the
            // batch is kept and tried again, never dropped, and the writer carries on.
            _metrics.CommitFailures.Add(1);
            var first = false;
            lock (_gate)
            {
                _failed.Add(batch);
                if (!_redisUnreachable)
                {
                    _redisUnreachable = first = true;
                }
            }

            if (first)
            {
                LogRedisUnreachable(e.Message);
            }

            Acknowledge(batch);
            return false;
        }

        _metrics.CommitBatchSize.Record(batch.Hits);
        _metrics.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        lock (_gate)
        {
            _unresolved.Remove(batch.Sequence);
        }

        if (batch.Acknowledged)
        {
            Interlocked.Add(ref _bufferedHits, -batch.Hits);
        }

        batch.Committed.TrySetResult(true);
        Committed?.Invoke(batch.Sites);
        return true;
    }

    /// <summary>Sends every failed and held batch again (each keeps its sequence number, so none counts twice).</summary>
    private async Task<bool> RetryAsync()
    {
        List<Batch> again;
        lock (_gate)
        {
            again = [.. _failed];
            _failed.Clear();
            if (_held is { } held)
            {
                _held = null;
                held.Sequence = ++_sequence;
                _unresolved.Add(held.Sequence);
                again.Add(held);
            }
        }

        var wasUnreachable = _redisUnreachable;
        var results = await Task.WhenAll(again.Select(TryWriteAsync));
        if (results.All(ok => ok))
        {
            lock (_gate)
            {
                _redisUnreachable = _failed.Count > 0;
            }

            if (!_redisUnreachable)
            {
                if (wasUnreachable)
                {
                    LogRedisBack();
                }

                _signal.Writer.TryWrite(0);
                return true;
            }
        }

        return false;
    }

    /// <summary>On shutdown: a last attempt to write what is open, held or failed.</summary>
    private async Task WriteRemainingAsync()
    {
        for (var wait = 0; Volatile.Read(ref _inFlight) > 0 && wait < 100; wait++)
        {
            await Task.Delay(50);
        }

        HoldOpenBatch();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (await RetryAsync())
            {
                return;
            }

            await Task.Delay(_options.RetryDelay);
        }

        List<Batch> lost;
        lock (_gate)
        {
            lost = [.. _failed];
        }

        foreach (var batch in lost)
        {
            batch.Committed.TrySetException(new CountingUnavailableException("The service stopped before Redis could be reached."));
        }

        LogLostAtShutdown(lost.Sum(b => b.Hits));
    }

    private Batch? TakeOpenBatch()
    {
        lock (_gate)
        {
            if (_open.Hits == 0)
            {
                return null;
            }

            var taken = _open;
            _open = new Batch();
            taken.Sequence = ++_sequence;
            _unresolved.Add(taken.Sequence);
            return taken;
        }
    }

    /// <summary>While Redis is away the open batch joins the held one: never sent, so it may be merged.</summary>
    private void HoldOpenBatch()
    {
        Batch taken;
        lock (_gate)
        {
            if (_open.Hits == 0)
            {
                return;
            }

            taken = _open;
            _open = new Batch();
            if (_held is null)
            {
                _held = new Batch();
                _held.Acknowledged = true;
            }

            _held.Merge(taken);
        }

        Interlocked.Add(ref _bufferedHits, taken.Hits);
        taken.Committed.TrySetResult(false);
    }

    private void Acknowledge(Batch batch)
    {
        if (!batch.Acknowledged)
        {
            batch.Acknowledged = true;
            Interlocked.Add(ref _bufferedHits, batch.Hits);
            batch.Committed.TrySetResult(false);
        }
    }

    private Task WriteAsync(Batch batch)
    {
        long lowestUnresolved;
        lock (_gate)
        {
            lowestUnresolved = _unresolved.Min;
        }

        var db = _redis.GetDatabase();
        // Asked on every write: the multiplexer learns the topology when it connects.
        if (!_redis.GetServers().Any(server => server.ServerType == ServerType.Cluster))
        {
            // One server: the whole batch in one script call, checked against one record.
            var (keys, values) = Arguments(RedisKeys.Applied(_writerId), batch.Sections, batch.Sequence, lowestUnresolved);
            return db.ScriptEvaluateAsync(ApplyScript, keys, values);
        }

        // A cluster: one call per site, all of whose keys (its record too) share the site's slot.
        return Task.WhenAll(batch.Sections.GroupBy(section => section.Site, StringComparer.Ordinal).Select(site =>
        {
            var (keys, values) = Arguments(RedisKeys.Applied(site.Key, _writerId), site, batch.Sequence, lowestUnresolved);
            return db.ScriptEvaluateAsync(ApplyScript, keys, values);
        }));
    }

    private static (RedisKey[] Keys, RedisValue[] Values) Arguments(RedisKey record, IEnumerable<Section> sections, long sequence, long lowestUnresolved)
    {
        var keys = new List<RedisKey> { record };
        var values = new List<RedisValue> { sequence, lowestUnresolved, AppliedTtlSeconds, (long)AnswerKeptFor.TotalSeconds };
        foreach (var section in sections)
        {
            var site = section.Site;
            keys.Add(RedisKeys.Total(site));
            keys.Add(RedisKeys.Dirty(site));
            keys.Add(RedisKeys.Generation(site));
            values.Add(section.Days.Count);
            values.Add(section.Generation);
            values.Add(section.Answer is null ? 0 : 1);
            foreach (var (day, delta) in section.Days)
            {
                keys.Add(RedisKeys.Day(site, day));
                keys.Add(RedisKeys.Pages(site, day));
                keys.Add(RedisKeys.Referrers(site, day));
                keys.Add(RedisKeys.Visitors(site, day));
                values.Add(RedisKeys.Date(day));
                delta.AppendArguments(values);
            }

            if (section.Answer is { } answer)
            {
                keys.Add(answer.Key);
                values.Add(answer.Json);
            }
        }

        return ([.. keys], [.. values]);
    }

    /// <summary>
    /// One site's hits in a batch, summed per day, page and referrer, under the generation they were
    /// checked against; or one server-side batch with an Idempotency-Key, kept apart with its answer
    /// so the script can tell whether that batch was counted already.
    /// </summary>
    private sealed class Section(string site)
    {
        public string Site { get; } = site;

        /// <summary>The generation the section's hits were checked against.</summary>
        public string Generation { get; set; } = "";

        public Dictionary<DateOnly, DayDelta> Days { get; } = [];

        public (RedisKey Key, RedisValue Json)? Answer { get; init; }

        public void Add(in Hit hit)
        {
            if (!Days.TryGetValue(hit.Day, out var delta))
            {
                delta = new DayDelta();
                Days[hit.Day] = delta;
            }

            delta.Add(hit);
            Generation = hit.Generation;
        }

        public void Merge(Section other)
        {
            foreach (var (day, delta) in other.Days)
            {
                if (Days.TryGetValue(day, out var mine))
                {
                    mine.Merge(delta);
                }
                else
                {
                    Days[day] = delta;
                }
            }

            Generation = other.Generation;
        }
    }

    /// <summary>Hits summed per site, day, page and referrer, awaited together.</summary>
    private sealed class Batch
    {
        // By site and generation: hits checked against a site deleted (and perhaps made again) since
        // stay apart from the live site's, so the script drops only them.
        private readonly Dictionary<(string Site, string Generation), Section> _bySite = [];
        private readonly List<Section> _answered = [];

        public IEnumerable<Section> Sections => _bySite.Values.Concat(_answered);

        /// <summary>The sites the batch changes.</summary>
        public IReadOnlyCollection<string> Sites => [.. _bySite.Keys.Select(k => k.Site).Union(_answered.Select(s => s.Site), StringComparer.Ordinal)];

        // Completing a batch runs its requests' continuations right there (each only writes a
        // 43-byte answer before it awaits again): one thread finishes the whole batch instead of a
        // thread-pool hop per request.
        public TaskCompletionSource<bool> Committed { get; } = new(TaskCreationOptions.None);

        public int Hits { get; private set; }

        public long Sequence { get; set; }

        /// <summary>Answered to its clients before Redis had it (held while Redis was away).</summary>
        public bool Acknowledged { get; set; }

        public void Add(in Hit hit)
        {
            if (!_bySite.TryGetValue((hit.Site, hit.Generation), out var section))
            {
                section = new Section(hit.Site);
                _bySite[(hit.Site, hit.Generation)] = section;
            }

            section.Add(hit);
            Hits++;
        }

        /// <summary>A server-side batch with an Idempotency-Key: a section of its own, with its answer.</summary>
        public void AddAnswered(IReadOnlyList<Hit> hits, RedisKey key, RedisValue json)
        {
            var section = new Section(hits[0].Site) { Answer = (key, json) };
            foreach (var hit in hits)
            {
                section.Add(hit);
            }

            _answered.Add(section);
            Hits += hits.Count;
        }

        /// <summary>Takes the other batch's hits; only for batches never sent (their deltas are shared, not copied).</summary>
        public void Merge(Batch other)
        {
            foreach (var (key, theirs) in other._bySite)
            {
                if (_bySite.TryGetValue(key, out var mine))
                {
                    mine.Merge(theirs);
                }
                else
                {
                    _bySite[key] = theirs;
                }
            }

            _answered.AddRange(other._answered);
            Hits += other.Hits;
        }
    }

    private sealed class DayDelta
    {
        private readonly Dictionary<string, long> _pages = new(StringComparer.Ordinal);
        private readonly Dictionary<string, long> _referrers = new(StringComparer.Ordinal);
        private readonly HashSet<ulong> _visitors = [];
        private long _views;

        public void Add(in Hit hit)
        {
            _views++;
            _pages[hit.Path] = _pages.GetValueOrDefault(hit.Path) + 1;
            _referrers[hit.Referrer] = _referrers.GetValueOrDefault(hit.Referrer) + 1;
            if (hit.Visitor != 0)
            {
                _visitors.Add(hit.Visitor);
            }
        }

        public void Merge(DayDelta other)
        {
            _views += other._views;
            foreach (var (path, views) in other._pages)
            {
                _pages[path] = _pages.GetValueOrDefault(path) + views;
            }

            foreach (var (referrer, views) in other._referrers)
            {
                _referrers[referrer] = _referrers.GetValueOrDefault(referrer) + views;
            }

            _visitors.UnionWith(other._visitors);
        }

        /// <summary>views, #pages, #referrers, #visitors, then the pairs and the visitor hashes (the script's layout).</summary>
        public void AppendArguments(List<RedisValue> values)
        {
            values.Add(_views);
            values.Add(_pages.Count);
            values.Add(_referrers.Count);
            values.Add(_visitors.Count);
            foreach (var (path, views) in _pages)
            {
                values.Add(path);
                values.Add(views);
            }

            foreach (var (referrer, views) in _referrers)
            {
                values.Add(referrer);
                values.Add(views);
            }

            foreach (var visitor in _visitors)
            {
                values.Add(BitConverter.GetBytes(visitor));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable ({Reason}); holding hits in memory until it is back.")]
    private partial void LogRedisUnreachable(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis is reachable again; held hits are written.")]
    private partial void LogRedisBack();

    [LoggerMessage(Level = LogLevel.Error, Message = "Stopped with {Hits} hits not written: Redis was unreachable.")]
    private partial void LogLostAtShutdown(int hits);
}

using System.Diagnostics;
using System.Threading.Channels;
using Analytics.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Counting;

/// <summary>
/// Group commit of page views into Redis. Request threads add hits to the open batch and await
/// it; one loop writes a whole batch (summed per site, day, page and referrer) in one pipelined
/// round trip, then completes every waiting request at once. While a write is in flight the next
/// batch fills up, so the busier the service the bigger the batches: no per-hit round trip.
///
/// Exactness: each batch carries this writer's increasing sequence number and each site's part
/// of it is applied by a Lua script that first checks and records the last sequence applied,
/// so retrying a batch whose answer was lost never counts it twice. Batches are written strictly
/// in order; while Redis is unreachable they wait in memory (bounded), acknowledged, and are
/// written when it is back.
/// </summary>
internal sealed partial class CounterWriter : BackgroundService
{
    private const string ApplyScript = """
        local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
        if last >= tonumber(ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        local a = 4
        local k = 3
        local total = 0
        while a <= #ARGV do
          local views = tonumber(ARGV[a])
          local pages = tonumber(ARGV[a + 1])
          local referrers = tonumber(ARGV[a + 2])
          local visitors = tonumber(ARGV[a + 3])
          a = a + 4
          redis.call('HINCRBY', KEYS[k], 'views', views)
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
          total = total + views
          k = k + 4
        end
        redis.call('INCRBY', KEYS[2], total)
        return 1
        """;

    private static readonly RedisValue WritersTtlSeconds = (long)TimeSpan.FromDays(7).TotalSeconds;

    private readonly IConnectionMultiplexer _redis;
    private readonly CountingOptions _options;
    private readonly ILogger<CounterWriter> _logger;
    private readonly AnalyticsMetrics _metrics;
    private readonly Channel<byte> _signal = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Queue<Batch> _queue = new();
    private readonly Lock _gate = new();
    private readonly RedisValue _writerId = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private Batch _open = new();
    private long _sequence;
    private long _bufferedHits;
    private volatile bool _redisUnreachable;

    public CounterWriter(IConnectionMultiplexer redis, IOptions<CountingOptions> options, AnalyticsMetrics metrics, ILogger<CounterWriter> logger)
    {
        _redis = redis;
        _options = options.Value;
        _logger = logger;
        _metrics = metrics;
        metrics.ObserveBufferedHits(() => BufferedHits);
        // Exported from the start, so boards and alerts see 0 rather than nothing.
        metrics.CommitFailures.Add(0);
    }

    /// <summary>Raised after a batch is in Redis, with the sites it touched (the live publisher listens).</summary>
    public event Action<IReadOnlyCollection<string>>? Committed;

    /// <summary>Hits acknowledged while Redis was unreachable and not yet written.</summary>
    public long BufferedHits => Interlocked.Read(ref _bufferedHits);

    public bool RedisUnreachable => _redisUnreachable;

    /// <summary>Counts one hit; the task completes once Redis has it (or it is buffered while Redis is away).</summary>
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

    public Task CountAsync(IReadOnlyList<Hit> hits)
    {
        if (hits.Count == 0)
        {
            return Task.CompletedTask;
        }

        Task committed;
        lock (_gate)
        {
            RefuseWhenFull(hits.Count);
            foreach (var hit in hits)
            {
                _open.Add(hit);
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
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (_queue.Count == 0)
                {
                    await _signal.Reader.WaitToReadAsync(stoppingToken);
                }
                else
                {
                    var wait = retryAt - DateTime.UtcNow;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.WhenAny(_signal.Reader.WaitToReadAsync(stoppingToken).AsTask(), Task.Delay(wait, stoppingToken));
                    }
                }

                _signal.Reader.TryRead(out _);
                TakeOpenBatch();

                if (_redisUnreachable && DateTime.UtcNow < retryAt)
                {
                    AcknowledgeBuffered();
                    continue;
                }

                if (await TryWriteQueueAsync())
                {
                    retryDelay = _options.RetryDelay;
                }
                else
                {
                    AcknowledgeBuffered();
                    retryAt = DateTime.UtcNow + retryDelay;
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _options.MaxRetryDelay.Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await WriteRemainingAsync();
    }

    /// <summary>On shutdown: one last attempt to write what is open or buffered.</summary>
    private async Task WriteRemainingAsync()
    {
        TakeOpenBatch();
        for (var attempt = 0; attempt < 3 && _queue.Count > 0; attempt++)
        {
            if (!await TryWriteQueueAsync())
            {
                await Task.Delay(_options.RetryDelay);
            }
        }

        if (_queue.Count > 0)
        {
            var lost = _queue.Sum(b => b.Hits);
            foreach (var batch in _queue)
            {
                batch.Committed.TrySetException(new CountingUnavailableException("The service stopped before Redis could be reached."));
            }

            LogLostAtShutdown(lost);
        }
    }

    private void TakeOpenBatch()
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
        }

        taken.Sequence = ++_sequence;
        _queue.Enqueue(taken);
    }

    private void AcknowledgeBuffered()
    {
        foreach (var batch in _queue)
        {
            if (!batch.Acknowledged)
            {
                batch.Acknowledged = true;
                Interlocked.Add(ref _bufferedHits, batch.Hits);
                batch.Committed.TrySetResult();
            }
        }
    }

    /// <summary>Writes queued batches in order; false at the first failure (the rest stay queued).</summary>
    private async Task<bool> TryWriteQueueAsync()
    {
        while (_queue.TryPeek(out var batch))
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await WriteAsync(batch);
                _metrics.CommitBatchSize.Record(batch.Hits);
                _metrics.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _metrics.CommitFailures.Add(1);
                if (!_redisUnreachable)
                {
                    LogRedisUnreachable(e, _queue.Sum(b => b.Hits));
                }

                _redisUnreachable = true;
                return false;
            }

            _queue.Dequeue();
            if (batch.Acknowledged)
            {
                Interlocked.Add(ref _bufferedHits, -batch.Hits);
            }

            batch.Committed.TrySetResult();
            Committed?.Invoke(batch.Sites.Keys);
        }

        if (_redisUnreachable)
        {
            _redisUnreachable = false;
            LogRedisBack();
        }

        return true;
    }

    private async Task WriteAsync(Batch batch)
    {
        var db = _redis.GetDatabase();
        var applied = new List<Task<RedisResult>>(batch.Sites.Count);
        var dirty = new List<RedisValue>();
        foreach (var (site, days) in batch.Sites)
        {
            var keys = new RedisKey[2 + (days.Count * 4)];
            keys[0] = RedisKeys.Writers(site);
            keys[1] = RedisKeys.Total(site);
            var values = new List<RedisValue>(3 + (days.Count * 8)) { _writerId, batch.Sequence, WritersTtlSeconds };
            var k = 2;
            foreach (var (day, delta) in days)
            {
                keys[k++] = RedisKeys.Day(site, day);
                keys[k++] = RedisKeys.Pages(site, day);
                keys[k++] = RedisKeys.Referrers(site, day);
                keys[k++] = RedisKeys.Visitors(site, day);
                delta.AppendArguments(values);
                dirty.Add(RedisKeys.DirtyMember(site, day));
            }

            applied.Add(db.ScriptEvaluateAsync(ApplyScript, keys, [.. values]));
        }

        await Task.WhenAll(applied);
        // Marked dirty only after the counters changed, so a rollup never clears a pair it has not read.
        await db.SetAddAsync(RedisKeys.Dirty, [.. dirty]);
    }

    /// <summary>Hits summed per site, day, page and referrer, awaited together.</summary>
    private sealed class Batch
    {
        public Dictionary<string, Dictionary<DateOnly, DayDelta>> Sites { get; } = new(StringComparer.Ordinal);

        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Hits { get; private set; }

        public long Sequence { get; set; }

        public bool Acknowledged { get; set; }

        public void Add(in Hit hit)
        {
            if (!Sites.TryGetValue(hit.Site, out var days))
            {
                days = [];
                Sites[hit.Site] = days;
            }

            if (!days.TryGetValue(hit.Day, out var delta))
            {
                delta = new DayDelta();
                days[hit.Day] = delta;
            }

            delta.Add(hit);
            Hits++;
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable; holding {Hits} hits in memory until it is back.")]
    private partial void LogRedisUnreachable(Exception exception, int hits);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis is reachable again; buffered hits are written.")]
    private partial void LogRedisBack();

    [LoggerMessage(Level = LogLevel.Error, Message = "Stopped with {Hits} hits not written: Redis was unreachable.")]
    private partial void LogLostAtShutdown(int hits);
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Analytics.Counting;
using Analytics.Reads;
using Analytics.Sites;
using Analytics.Telemetry;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Analytics.Live;

/// <summary>
/// Pushes a site's counts to its watchers after the group commits that changed it. It reads the
/// absolute counts back from Redis (never sums deltas), so every node pushes the same truth and a
/// missed push is healed by the next. Pushes are coalesced to one per site per
/// <see cref="LiveOptions.MinPushInterval"/>: a burst of hits becomes a push now and one at the end.
/// With the Redis backplane every node's push reaches every watcher, so the nodes share one slot
/// per site and interval in Redis: whoever takes it pushes, the others try again an interval later
/// (a push reads the counts afresh, so one covers the changes of all nodes before it).
/// </summary>
internal sealed partial class LivePublisher : BackgroundService
{
    private readonly IHubContext<LiveHub, ILiveClient> _hub;
    private readonly SiteStore _sites;
    private readonly CountsReader _counts;
    private readonly TopPagesReader _topPages;
    private readonly LiveSubscriptions _subscriptions;
    private readonly LiveOptions _options;
    private readonly ILogger<LivePublisher> _logger;
    private readonly CounterWriter _counter;
    private readonly AnalyticsMetrics _metrics;
    private readonly ConcurrentDictionary<string, long> _changed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _nextPush = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateOnly> _today = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly Channel<byte> _signal = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    private readonly IConnectionMultiplexer _redis;

    public LivePublisher(IHubContext<LiveHub, ILiveClient> hub, SiteStore sites, CountsReader counts, TopPagesReader topPages, LiveSubscriptions subscriptions, CounterWriter counter, IOptions<LiveOptions> options, AnalyticsMetrics metrics, TimeProvider time, IConnectionMultiplexer redis, ILogger<LivePublisher> logger)
    {
        _redis = redis;
        _time = time;
        _metrics = metrics;
        _hub = hub;
        _sites = sites;
        _counts = counts;
        _topPages = topPages;
        _subscriptions = subscriptions;
        _counter = counter;
        _options = options.Value;
        _logger = logger;
        _counter.Committed += OnCommitted;
    }

    private void OnCommitted(IReadOnlyCollection<string> sites)
    {
        var now = Stopwatch.GetTimestamp();
        var any = false;
        foreach (var site in sites)
        {
            // With the backplane, watchers may be on other nodes: push every change.
            if (_options.RedisBackplane || _subscriptions.IsWatched(site))
            {
                _changed.TryAdd(site, now);
                any = true;
            }
        }

        if (any)
        {
            _signal.Writer.TryWrite(0);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = Stopwatch.Frequency * _options.MinPushInterval.Ticks / TimeSpan.TicksPerSecond;
        // One wait for a signal at a time, kept across timeouts: a new wait each pass would leave
        // one more waiter in the channel whenever no signal comes.
        Task<bool>? signalled = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await PushNewDaysAsync();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Redis not answering, say: the next pass tries again.
                    LogPassFailed(e.Message);
                }

                var now = Stopwatch.GetTimestamp();
                long? wakeAt = null;
                foreach (var (site, changedAt) in _changed)
                {
                    if (_nextPush.TryGetValue(site, out var next) && next > now)
                    {
                        wakeAt = Math.Min(wakeAt ?? long.MaxValue, next);
                        continue;
                    }

                    _changed.TryRemove(site, out _);
                    _nextPush[site] = now + interval;
                    if (!await TakePushSlotAsync(site))
                    {
                        // Another node pushes this interval; push after it, unless it already did.
                        _changed.TryAdd(site, changedAt);
                        wakeAt = Math.Min(wakeAt ?? long.MaxValue, now + interval);
                        continue;
                    }

                    await PushAsync(site, changedAt);
                }

                signalled ??= _signal.Reader.WaitToReadAsync(stoppingToken).AsTask();
                if (wakeAt is { } at)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at);
                    await Task.WhenAny(signalled, Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, stoppingToken));
                }
                else
                {
                    // Wake now and then even without hits, to notice a site's local midnight.
                    await Task.WhenAny(signalled, Task.Delay(_options.DayCheckInterval, stoppingToken));
                }

                if (signalled.IsCompleted)
                {
                    signalled = null;
                    _signal.Reader.TryRead(out _);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Without the backplane, always; with it, true for the one node that takes the site's slot of this interval.</summary>
    private async Task<bool> TakePushSlotAsync(string site)
    {
        if (!_options.RedisBackplane)
        {
            return true;
        }

        try
        {
            return await _redis.GetDatabase().StringSetAsync(RedisKeys.PushSlot(site), 1, _options.MinPushInterval, When.NotExists);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Redis is away: the push itself will say so.
            return true;
        }
    }

    /// <summary>At a watched site's local midnight its counts move on a day even without a hit: push them.</summary>
    private async Task PushNewDaysAsync()
    {
        foreach (var siteId in _subscriptions.WatchedSites())
        {
            if (await _sites.FindAsync(siteId) is not { } site)
            {
                continue;
            }

            var today = site.LocalDay(_time.GetUtcNow());
            if (_today.TryGetValue(siteId, out var known) && known != today)
            {
                _changed.TryAdd(siteId, Stopwatch.GetTimestamp());
            }

            _today[siteId] = today;
        }
    }

    private async Task PushAsync(string siteId, long changedAt)
    {
        try
        {
            var site = await _sites.FindAsync(siteId);
            if (site is null)
            {
                return;
            }

            var counts = await _counts.ReadAsync(site, _options.Days);
            await _hub.Clients.Group(LiveSubscriptions.CountsGroup(siteId)).counts(counts);
            if (_options.RedisBackplane || _subscriptions.IsWatchedByStaff(siteId))
            {
                await _hub.Clients.Group(LiveSubscriptions.StaffGroup(siteId)).pages(await _topPages.ReadAsync(site));
            }

            _metrics.LivePushes.Add(1);
            _metrics.LivePushLatency.Record(Stopwatch.GetElapsedTime(changedAt).TotalSeconds);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Tried again a few seconds on (or at the next change): watchers get the truth in the end.
            LogPushFailed(e, siteId);
            _changed.TryAdd(siteId, changedAt);
            _nextPush[siteId] = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 5);
        }
    }

    public override void Dispose()
    {
        _counter.Committed -= OnCommitted;
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A live push pass failed ({Reason}); trying again.")]
    private partial void LogPassFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live push for {Site} failed.")]
    private partial void LogPushFailed(Exception exception, string site);
}

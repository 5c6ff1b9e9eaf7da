using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Analytics.Counting;
using Analytics.Ingest;
using Analytics.Sites;
using StackExchange.Redis;

namespace Analytics.LoadTests.Targets;

/// <summary>
/// A deliberately wrong service for the harness's self-test. It answers like the service — the
/// GIF for <c>/p.gif</c>, 202 for <c>/api/event</c>, 201 with an ingest key for
/// <c>POST /api/sites</c> (stored in Redis like the service's) — and counts into the service's very Redis keys (normalised path,
/// referrer host, the site's local day, total, changed set) with the service's own rules, but
/// silently drops one hit in every <see cref="DropEvery"/> (0: drops none, a faithful target).
/// <see cref="Verification.CountVerifier"/> must catch it; run against it with <c>run --target</c>.
/// </summary>
internal sealed class LossyTarget : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, SiteEntry> _sites = new(StringComparer.Ordinal);
    private readonly ConnectionMultiplexer _redis;
    private readonly SiteStore _store;
    private readonly WebApplication _app;
    private long _hits;
    private long _dropped;

    private LossyTarget(int port, string redisConnection, int dropEvery)
    {
        DropEvery = dropEvery;
        Port = port;
        _redis = ConnectionMultiplexer.Connect(redisConnection);
        _store = new SiteStore(_redis, Microsoft.Extensions.Logging.Abstractions.NullLogger<SiteStore>.Instance);
        _app = MinimalHost.CreateBuilder(port).Build();
        _app.MapGet("/healthz", () => Results.Ok());
        _app.MapGet("/readyz", () => Results.Ok());
        _app.MapPost("/api/sites", (HttpRequest request) => CreateSiteAsync(request));
        _app.MapGet("/p.gif", async Task<IResult> (HttpContext context, string? s, string? u, string? r) =>
            await CountAsync(s, u, r) ?? MinimalHost.GifResult(context));
        _app.MapPost("/api/event", async Task<IResult> (HttpRequest request) =>
        {
            using var json = await JsonDocument.ParseAsync(request.Body);
            var root = json.RootElement;
            return await CountAsync(Text(root, "site"), Text(root, "url"), Text(root, "referrer")) ?? Results.StatusCode(StatusCodes.Status202Accepted);
        });
    }

    /// <summary>One hit in this many is acknowledged and not counted; 0 counts every hit.</summary>
    public int DropEvery { get; }

    public int Port { get; }

    public Uri BaseAddress => new(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}"));

    /// <summary>Hits answered 2xx.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Hits answered 2xx and not counted.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Starts the target in this process (what a test does); dispose to stop it.</summary>
    public static async Task<LossyTarget> StartAsync(int port, string redisConnection, int dropEvery, CancellationToken cancellationToken = default)
    {
        var target = new LossyTarget(port, redisConnection, dropEvery);
        await target._app.StartAsync(cancellationToken);
        return target;
    }

    /// <summary>
    /// Adds a site: kept in memory for counting, and stored in Redis like the service does (the
    /// rollup rolls up only known sites). Returns its ingest key; null when the id is taken.
    /// </summary>
    public async Task<string?> AddSiteAsync(string id, string domain, string timeZone = "UTC")
    {
        var site = new Site { Id = id, Domains = [SiteRules.NormaliseDomain(domain) ?? domain], TimeZone = timeZone, CreatedAt = DateTimeOffset.UtcNow };
        var key = await _store.CreateAsync(site);
        if (key is not null)
        {
            _sites[id] = new SiteEntry(site);
        }

        return key;
    }

    private async Task<IResult> CreateSiteAsync(HttpRequest request)
    {
        using var json = await JsonDocument.ParseAsync(request.Body);
        var root = json.RootElement;
        var id = Text(root, "id");
        var domain = root.TryGetProperty("domains", out var domains) && domains.ValueKind == JsonValueKind.Array && domains.GetArrayLength() > 0
            ? domains[0].GetString()
            : null;
        if (id is null || domain is null)
        {
            return Results.BadRequest();
        }

        var key = await AddSiteAsync(id, domain, Text(root, "timeZone") ?? "UTC");
        return key is null ? Results.Conflict() : Results.Json(new { id, ingestKey = key }, statusCode: StatusCodes.Status201Created);
    }

    private async Task<IResult?> CountAsync(string? siteId, string? url, string? referrer)
    {
        if (siteId is null || !_sites.TryGetValue(siteId, out var site))
        {
            return Results.NotFound();
        }

        if (!PageUrl.TryNormalise(url, site, 2048, out var path, out _))
        {
            return Results.BadRequest();
        }

        var day = site.LocalDay(DateTimeOffset.UtcNow);
        var hit = Interlocked.Increment(ref _hits);
        if (DropEvery > 0 && hit % DropEvery == 0)
        {
            Interlocked.Increment(ref _dropped);
            return null;
        }

        var transaction = _redis.GetDatabase().CreateTransaction();
        _ = transaction.HashIncrementAsync(RedisKeys.Day(site.Id, day), "views");
        _ = transaction.HashIncrementAsync(RedisKeys.Pages(site.Id, day), path);
        _ = transaction.HashIncrementAsync(RedisKeys.Referrers(site.Id, day), PageUrl.ReferrerHost(referrer, site));
        _ = transaction.StringIncrementAsync(RedisKeys.Total(site.Id));
        _ = transaction.SetAddAsync(RedisKeys.Dirty(site.Id), RedisKeys.Date(day));
        await transaction.ExecuteAsync();
        return null;
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Runs until cancelled (the hidden <c>lossy-target</c> command).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _store.Dispose();
        await _redis.DisposeAsync();
    }
}

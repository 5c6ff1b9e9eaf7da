using System.Text.Json;
using Analytics.Counting;
using Analytics.Infrastructure;
using StackExchange.Redis;

namespace Analytics.Sites;

/// <summary>
/// Sites persisted in Redis (hash <c>a:sites</c>), with an in-memory copy for the ingest hot path.
/// Every node reloads its copy when any node publishes a change, and every few seconds anyway.
/// Cache ages are wall-clock (not the injected TimeProvider, which is the product's notion of "now").
/// </summary>
internal sealed class SiteStore : IDisposable
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MissReloadAtMostEvery = TimeSpan.FromSeconds(1);

    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<SiteStore> _logger;
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly ITimer _refresh;
    private volatile Snapshot _snapshot = new([], DateTimeOffset.MinValue);
    private bool _subscribed;

    public SiteStore(IConnectionMultiplexer redis, ILogger<SiteStore> logger)
    {
        _redis = redis;
        _logger = logger;
        _refresh = TimeProvider.System.CreateTimer(_ => _ = ReloadQuietlyAsync(), null, TimeSpan.Zero, RefreshEvery);
    }

    private sealed record Snapshot(Dictionary<string, SiteEntry> ById, DateTimeOffset LoadedAt)
    {
        public Dictionary<string, SiteEntry> ByDomain { get; } = IndexDomains(ById.Values);

        private static Dictionary<string, SiteEntry> IndexDomains(IEnumerable<SiteEntry> sites)
        {
            var index = new Dictionary<string, SiteEntry>(StringComparer.OrdinalIgnoreCase);
            foreach (var site in sites.OrderBy(s => s.Site.CreatedAt).ThenBy(s => s.Id, StringComparer.Ordinal))
            {
                foreach (var domain in site.Domains)
                {
                    index.TryAdd(domain, site);
                }
            }

            return index;
        }
    }

    private IDatabase Db => _redis.GetDatabase();

    /// <summary>The site with this id, from memory; reloads from Redis at most once a second on a miss.</summary>
    public async ValueTask<SiteEntry?> FindAsync(string id)
    {
        if (_snapshot.ById.TryGetValue(id, out var entry))
        {
            return entry;
        }

        if (DateTimeOffset.UtcNow - _snapshot.LoadedAt < MissReloadAtMostEvery)
        {
            return null;
        }

        await ReloadQuietlyAsync();
        return _snapshot.ById.GetValueOrDefault(id);
    }

    /// <summary>The site tracking this domain (Plausible's <c>d</c>), also matching www. and subdomains.</summary>
    public async ValueTask<SiteEntry?> FindByDomainAsync(string domain)
    {
        var normalised = SiteRules.NormaliseDomain(domain);
        if (normalised is null)
        {
            return null;
        }

        var found = Lookup(_snapshot, normalised);
        if (found is null && DateTimeOffset.UtcNow - _snapshot.LoadedAt >= MissReloadAtMostEvery)
        {
            await ReloadQuietlyAsync();
            found = Lookup(_snapshot, normalised);
        }

        return found;

        static SiteEntry? Lookup(Snapshot snapshot, string host)
        {
            for (var candidate = host; ; )
            {
                if (snapshot.ByDomain.TryGetValue(candidate, out var site))
                {
                    return site;
                }

                var dot = candidate.IndexOf('.', StringComparison.Ordinal);
                if (dot < 0)
                {
                    return null;
                }

                candidate = candidate[(dot + 1)..];
            }
        }
    }

    public async Task<SiteEntry?> FindByIngestKeyAsync(string ingestKey)
    {
        var id = await Db.HashGetAsync(RedisKeys.IngestKeys, Secrets.Hash(ingestKey));
        return id.IsNull ? null : await FindAsync(id!);
    }

    public async Task<IReadOnlyList<Site>> ListAsync()
    {
        var all = await Db.HashGetAllAsync(RedisKeys.Sites);
        return [.. all.Select(e => Deserialize(e.Value!)).OrderBy(s => s.Id, StringComparer.Ordinal)];
    }

    public async Task<Site?> GetAsync(string id)
    {
        var json = await Db.HashGetAsync(RedisKeys.Sites, id);
        return json.IsNull ? null : Deserialize(json!);
    }

    /// <summary>Adds the site with a new ingest key and returns the key (shown once); null when the id is taken.</summary>
    public async Task<string?> CreateAsync(Site site)
    {
        var ingestKey = Secrets.New("ik_");
        site = site with { IngestKeyHash = Secrets.Hash(ingestKey), Generation = Guid.NewGuid().ToString("N") };
        if (!await Db.HashSetAsync(RedisKeys.Sites, site.Id, Serialize(site), When.NotExists))
        {
            return null;
        }

        // Before any node learns of the site (ChangedAsync), so its first hits find their generation.
        await Db.StringSetAsync(RedisKeys.Generation(site.Id), site.Generation);

        await Db.HashSetAsync(RedisKeys.IngestKeys, site.IngestKeyHash, site.Id);
        await ChangedAsync();
        return ingestKey;
    }

    // Writes a site only while it exists: a change read before a deletion must not bring it back.
    private const string UpdateScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
          return 1
        end
        return 0
        """;

    /// <summary>Stores the changed site; false when it was deleted meanwhile (nothing written).</summary>
    public async Task<bool> UpdateAsync(Site site)
    {
        // Not over a site deleted and made again since it was read (its generation changed).
        if (site.Generation.Length > 0 && await Db.StringGetAsync(RedisKeys.Generation(site.Id)) != site.Generation)
        {
            return false;
        }

        if ((long)await Db.ScriptEvaluateAsync(UpdateScript, [RedisKeys.Sites], [site.Id, Serialize(site)]) == 0)
        {
            return false;
        }

        await ChangedAsync();
        return true;
    }

    /// <summary>Replaces the site's ingest key; the old one stops working at once. False when the site was deleted meanwhile.</summary>
    public async Task<bool> RotateIngestKeyAsync(Site site, string ingestKey)
    {
        var keyHash = Secrets.Hash(ingestKey);
        if (!await UpdateAsync(site with { IngestKeyHash = keyHash }))
        {
            return false;
        }

        await Db.HashSetAsync(RedisKeys.IngestKeys, keyHash, site.Id);
        await Db.HashDeleteAsync(RedisKeys.IngestKeys, site.IngestKeyHash);
        return true;
    }

    /// <summary>Removes the site's configuration and ingest key (<see cref="SiteRemoval"/> removes the rest).</summary>
    public async Task<bool> DeleteAsync(string id)
    {
        var site = await GetAsync(id);
        if (site is null)
        {
            return false;
        }

        await Db.HashDeleteAsync(RedisKeys.IngestKeys, site.IngestKeyHash);
        await Db.HashDeleteAsync(RedisKeys.Sites, id);
        await ChangedAsync();
        return true;
    }

    public async Task ReloadAsync()
    {
        await _reloading.WaitAsync();
        try
        {
            if (!_subscribed)
            {
                await _redis.GetSubscriber().SubscribeAsync(RedisKeys.SitesChanged, (_, _) => _ = ReloadQuietlyAsync());
                _subscribed = true;
            }

            var all = await Db.HashGetAllAsync(RedisKeys.Sites);
            var byId = new Dictionary<string, SiteEntry>(StringComparer.Ordinal);
            foreach (var entry in all)
            {
                var site = Deserialize(entry.Value!);
                try
                {
                    byId[site.Id] = new SiteEntry(site);
                }
                catch (TimeZoneNotFoundException)
                {
                    _logger.LogError("Site {Site} has an unknown time zone {TimeZone}; it is not counted until fixed.", site.Id, site.TimeZone);
                }
            }

            _snapshot = new Snapshot(byId, DateTimeOffset.UtcNow);
        }
        finally
        {
            _reloading.Release();
        }
    }

    private async Task ReloadQuietlyAsync()
    {
        try
        {
            await ReloadAsync();
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Keep serving the sites we know while Redis is away or not answering (StackExchange.Redis
            // times out with a TimeoutException), or the multiplexer is closing at shutdown.
            _logger.LogDebug(e, "Could not reload sites from Redis.");
        }
    }

    private async Task ChangedAsync()
    {
        await ReloadAsync();
        await _redis.GetSubscriber().PublishAsync(RedisKeys.SitesChanged, "1");
    }

    private static string Serialize(Site site) => JsonSerializer.Serialize(site, JsonDefaults.Options);

    private static Site Deserialize(string json) => JsonSerializer.Deserialize<Site>(json, JsonDefaults.Options)!;

    public void Dispose() => _refresh.Dispose();
}

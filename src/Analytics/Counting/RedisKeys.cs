using System.Globalization;
using StackExchange.Redis;

namespace Analytics.Counting;

/// <summary>
/// Every Redis key the service uses. Per-site keys carry the site as a <c>{site}</c> hash tag so
/// that a site's keys live in one Redis Cluster slot and one Lua script can touch them all.
/// </summary>
internal static class RedisKeys
{
    private const string Prefix = "a:";

    public static string Date(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Hash with field <c>views</c>: the site's views on its local day.</summary>
    public static RedisKey Day(string site, DateOnly day) => $"{Prefix}{{{site}}}:d:{Date(day)}";

    /// <summary>Hash normalised path → views on the day.</summary>
    public static RedisKey Pages(string site, DateOnly day) => $"{Prefix}{{{site}}}:p:{Date(day)}";

    /// <summary>Hash referrer host → views on the day (<c>(direct)</c> for none).</summary>
    public static RedisKey Referrers(string site, DateOnly day) => $"{Prefix}{{{site}}}:r:{Date(day)}";

    /// <summary>HyperLogLog of the day's visitor hashes.</summary>
    public static RedisKey Visitors(string site, DateOnly day) => $"{Prefix}{{{site}}}:u:{Date(day)}";

    /// <summary>The site's all-time views; never expires.</summary>
    public static RedisKey Total(string site) => $"{Prefix}{{{site}}}:total";

    /// <summary>Sorted set of the batch sequence numbers of one writer (a process) applied to the site, trimmed to those still unresolved: makes retries exact (on a cluster).</summary>
    public static RedisKey Applied(string site, string writer) => $"{Prefix}{{{site}}}:applied:{writer}";

    /// <summary>The same record for all sites at once, on a single Redis server.</summary>
    public static RedisKey Applied(string writer) => $"{Prefix}applied:{writer}";

    /// <summary>An Idempotency-Key of the batch endpoint: the answer given to the first request.</summary>
    public static RedisKey Idempotency(string site, string key) => $"{Prefix}{{{site}}}:idem:{key}";

    /// <summary>
    /// Set of the site's days (yyyy-MM-dd) whose counters changed since their last rollup. Written by
    /// the same script that changes the counters, so it can never lag behind them (also on a cluster).
    /// </summary>
    public static RedisKey Dirty(string site) => $"{Prefix}{{{site}}}:dirty";

    /// <summary>Days a rollup has taken and not yet confirmed; put back into <see cref="Dirty"/> if that rollup dies.</summary>
    public static RedisKey DirtyInFlight(string site) => $"{Prefix}{{{site}}}:rolling";

    /// <summary>
    /// The site's generation: a random value set when the site is made, <see cref="Deleted"/> once
    /// it is deleted. Counts are applied only under the generation their hits were checked against,
    /// so hits still on their way when a site is deleted (a node's cached copy, a batch held while
    /// Redis was away) do not come back as counts, nor count for a site made again under the id.
    /// </summary>
    public static RedisKey Generation(string site) => $"{Prefix}{{{site}}}:gen";

    /// <summary>Taken by the node that pushes a site's counts in this push interval (with the backplane, pushes reach every node's watchers).</summary>
    public static RedisKey PushSlot(string site) => $"{Prefix}{{{site}}}:push";

    /// <summary>The generation of a deleted site.</summary>
    public const string Deleted = "deleted";

    /// <summary>
    /// Hash of the site's days (yyyy-MM-dd) rolled up since their daily report file was last
    /// written, each with a change count; only kept while <c>Reports:DailyDirectory</c> is set.
    /// </summary>
    public static RedisKey Refile(string site) => $"{Prefix}{{{site}}}:refile";

    public static readonly RedisKey RollupLock = $"{Prefix}{{rollup}}:lock";

    public static bool TryParseDate(string text, out DateOnly day) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day);

    /// <summary>The daily secret that visitor hashes are salted with; it expires after the day.</summary>
    public static RedisKey Salt(DateOnly day) => $"{Prefix}salt:{Date(day)}";

    public static readonly RedisKey Sites = $"{Prefix}sites";

    public static readonly RedisKey IngestKeys = $"{Prefix}ingest-keys";

    public static readonly RedisChannel SitesChanged = RedisChannel.Literal($"{Prefix}sites:changed");

    public static readonly RedisKey Users = $"{Prefix}users";

    public static readonly RedisKey Tokens = $"{Prefix}tokens";

    public static RedisKey Session(string hash) => $"{Prefix}session:{hash}";
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Analytics.Counting;

/// <summary>
/// Unique visitors without cookies and without storing IPs: a visitor is the hash of a secret
/// daily salt, the site, the day, the client IP and the User-Agent. Salt, site and day make a
/// 128-bit key (HMAC-SHA256), kept while the day lasts; the IP and User-Agent are hashed under it
/// with SipHash-2-4, a keyed pseudo-random function. The salt lives in Redis
/// (shared by all nodes), is created on first use and expires two days after its date — the
/// end of that date in every time zone — after which nobody can link the hashes to visitors.
/// </summary>
internal sealed class VisitorHasher(IConnectionMultiplexer redis, TimeProvider time, ILogger<VisitorHasher> logger)
{
    private readonly ConcurrentDictionary<DateOnly, byte[]> _salts = new();
    private readonly ConcurrentDictionary<DateOnly, byte[]> _fallback = new();
    private readonly ConcurrentDictionary<(byte[] Salt, string Site, DateOnly Day), SipHash> _keys = new();

    /// <summary>The visitor's hash for the site's day; 0 when nothing identifies the visitor.</summary>
    public async ValueTask<ulong> HashAsync(string site, DateOnly day, string? ip, string? userAgent)
    {
        if (string.IsNullOrEmpty(ip) && string.IsNullOrEmpty(userAgent))
        {
            return 0;
        }

        var salt = await SaltAsync(SaltDay(day));
        if (!_keys.TryGetValue((salt, site, day), out var key))
        {
            if (_keys.Count > 10_000)
            {
                _keys.Clear();
            }

            key = _keys.GetOrAdd((salt, site, day), k => Key(k.Salt, k.Site, k.Day));
        }

        return Hash(key, ip, userAgent);
    }

    /// <summary>The site's key for the day: the first 16 bytes of HMAC-SHA256(salt, site \n day).</summary>
    internal static SipHash Key(byte[] salt, string site, DateOnly day)
    {
        var input = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{site}\n{day:yyyy-MM-dd}"));
        return SipHash.FromKey(HMACSHA256.HashData(salt, input));
    }

    /// <summary>SipHash-2-4 under the site's key of the day over ip \n user agent; 0 is kept for "unknown".</summary>
    internal static ulong Hash(SipHash key, string? ip, string? userAgent)
    {
        ip ??= "";
        userAgent ??= "";
        var length = Encoding.UTF8.GetMaxByteCount(ip.Length + userAgent.Length + 1);
        var rented = length > 1024 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> input = rented ?? stackalloc byte[1024];
        var written = Encoding.UTF8.GetBytes(ip, input);
        input[written++] = (byte)'\n';
        written += Encoding.UTF8.GetBytes(userAgent, input[written..]);

        var value = key.Hash(input[..written]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return value == 0 ? 1 : value;
    }

    /// <summary>
    /// Hits of the last days use their own day's salt; a back-filled hit from further back (its
    /// salt already destroyed) uses today's, which keeps it unique within its batch and day.
    /// </summary>
    private DateOnly SaltDay(DateOnly day)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        return Math.Abs(day.DayNumber - today.DayNumber) <= 1 ? day : today;
    }

    private async ValueTask<byte[]> SaltAsync(DateOnly day)
    {
        if (_salts.TryGetValue(day, out var salt))
        {
            return salt;
        }

        try
        {
            var db = redis.GetDatabase();
            var key = RedisKeys.Salt(day);
            var expires = day.AddDays(2).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            await db.StringSetAsync(key, RandomNumberGenerator.GetBytes(32), expiry: null, when: When.NotExists);
            await db.KeyExpireAsync(key, expires);
            // Gone already when the date is over by Redis's clock (a node whose clock is behind):
            // then this node keeps its own salt for the date.
            salt = (byte[]?)await db.StringGetAsync(key) ?? _fallback.GetOrAdd(day, _ => RandomNumberGenerator.GetBytes(32));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Redis away: a node-local salt for now (not cached), so counting goes on; a visitor
            // seen by two nodes meanwhile may count twice.
            logger.LogDebug(e, "No salt from Redis for {Day}; using a temporary one.", day);
            return _fallback.GetOrAdd(day, _ => RandomNumberGenerator.GetBytes(32));
        }

        foreach (var old in _salts.Keys.Where(d => d < day.AddDays(-2)))
        {
            _salts.TryRemove(old, out _);
        }

        foreach (var old in _keys.Keys.Where(k => k.Day < day.AddDays(-2)))
        {
            _keys.TryRemove(old, out _);
        }

        return _salts.GetOrAdd(day, salt);
    }
}

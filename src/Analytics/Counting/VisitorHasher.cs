using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Analytics.Counting;

/// <summary>
/// Unique visitors without cookies and without storing IPs: a visitor is the hash of a secret
/// daily salt, the site, the day, the client IP and the User-Agent. The salt lives in Redis
/// (shared by all nodes), is created on first use and expires two days after its date — the
/// end of that date in every time zone — after which nobody can link the hashes to visitors.
/// </summary>
internal sealed class VisitorHasher(IConnectionMultiplexer redis, TimeProvider time, ILogger<VisitorHasher> logger)
{
    private readonly ConcurrentDictionary<DateOnly, byte[]> _salts = new();

    /// <summary>The visitor's hash for the site's day; 0 when nothing identifies the visitor.</summary>
    public async ValueTask<ulong> HashAsync(string site, DateOnly day, string? ip, string? userAgent)
    {
        if (string.IsNullOrEmpty(ip) && string.IsNullOrEmpty(userAgent))
        {
            return 0;
        }

        var salt = await SaltAsync(SaltDay(day));
        var input = Encoding.UTF8.GetBytes($"{site}\n{RedisKeys.Date(day)}\n{ip}\n{userAgent}");
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(salt, input, hash);
        var value = BinaryPrimitives.ReadUInt64LittleEndian(hash);
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
            salt = (byte[])(await db.StringGetAsync(key))!;
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

        return _salts.GetOrAdd(day, salt);
    }

    private readonly ConcurrentDictionary<DateOnly, byte[]> _fallback = new();
}

using System.Text.Json;
using Analytics.Counting;
using Analytics.Infrastructure;
using StackExchange.Redis;

namespace Analytics.Staff;

internal static class Roles
{
    public const string Admin = "admin";
    public const string Viewer = "viewer";

    /// <summary>An API token: reads and exports of its sites, nothing else.</summary>
    public const string ApiToken = "token";
}

internal sealed record StaffUser(string Name, string PasswordHash, string Role, string[] Sites, DateTimeOffset CreatedAt);

internal sealed record ApiToken(string Name, string[] Sites, string CreatedBy, DateTimeOffset CreatedAt);

/// <summary>Staff users, API tokens and login sessions, in Redis so every node shares them.</summary>
internal sealed class StaffStore(IConnectionMultiplexer redis, TimeProvider time)
{
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromDays(14);

    private IDatabase Db => redis.GetDatabase();

    public async Task<bool> CreateUserAsync(StaffUser user) =>
        await Db.HashSetAsync(RedisKeys.Users, user.Name, JsonSerializer.Serialize(user, JsonDefaults.Options), When.NotExists);

    public async Task<StaffUser?> GetUserAsync(string name)
    {
        var json = await Db.HashGetAsync(RedisKeys.Users, name);
        return json.IsNull ? null : JsonSerializer.Deserialize<StaffUser>(json.ToString(), JsonDefaults.Options);
    }

    public async Task<IReadOnlyList<StaffUser>> ListUsersAsync()
    {
        var all = await Db.HashGetAllAsync(RedisKeys.Users);
        return [.. all.Select(e => JsonSerializer.Deserialize<StaffUser>(e.Value.ToString(), JsonDefaults.Options)!).OrderBy(u => u.Name, StringComparer.Ordinal)];
    }

    public Task<bool> DeleteUserAsync(string name) => Db.HashDeleteAsync(RedisKeys.Users, name);

    /// <summary>Creates a token and returns it; only its hash is stored, so this is the one time it is seen.</summary>
    public async Task<string> CreateTokenAsync(ApiToken token)
    {
        var secret = Secrets.New("at_");
        await Db.HashSetAsync(RedisKeys.Tokens, Secrets.Hash(secret), JsonSerializer.Serialize(token, JsonDefaults.Options));
        return secret;
    }

    public async Task<ApiToken?> FindTokenAsync(string secret)
    {
        var json = await Db.HashGetAsync(RedisKeys.Tokens, Secrets.Hash(secret));
        return json.IsNull ? null : JsonSerializer.Deserialize<ApiToken>(json.ToString(), JsonDefaults.Options);
    }

    public async Task<string> CreateSessionAsync(string userName)
    {
        var secret = Secrets.New("s_");
        await Db.StringSetAsync(RedisKeys.Session(Secrets.Hash(secret)), userName, SessionLifetime);
        return secret;
    }

    /// <summary>The signed-in user of a session cookie; a deleted user's sessions stop working at once.</summary>
    public async Task<StaffUser?> FindSessionUserAsync(string secret)
    {
        var name = await Db.StringGetAsync(RedisKeys.Session(Secrets.Hash(secret)));
        return name.IsNull ? null : await GetUserAsync(name.ToString());
    }

    public Task DeleteSessionAsync(string secret) => Db.KeyDeleteAsync(RedisKeys.Session(Secrets.Hash(secret)));

    public DateTimeOffset Now => time.GetUtcNow();
}

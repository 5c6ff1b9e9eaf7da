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

/// <summary>
/// A staff user. <see cref="Stamp"/> is new each time a user of this name is created, so sessions
/// and tokens of a deleted user do not come back when the name is used again (users from before
/// stamps have none). <see cref="SessionStamp"/> is new each time the password changes, which
/// ends the user's sessions (their tokens stay).
/// </summary>
internal sealed record StaffUser(string Name, string PasswordHash, string Role, string[] Sites, DateTimeOffset CreatedAt, string? Stamp = null, string? SessionStamp = null)
{
    public static StaffUser New(string name, string passwordHash, string role, string[] sites, DateTimeOffset createdAt) =>
        new(name, passwordHash, role, sites, createdAt, Guid.NewGuid().ToString("N"));

    /// <summary>This user with a new password (which ends their sessions), role or sites; null keeps each.</summary>
    public StaffUser Changed(string? passwordHash, string? role, string[]? sites) => this with
    {
        PasswordHash = passwordHash ?? PasswordHash,
        SessionStamp = passwordHash is null ? SessionStamp : Guid.NewGuid().ToString("N"),
        Role = role ?? Role,
        Sites = sites is null ? Sites : [.. sites.Distinct(StringComparer.Ordinal)],
    };
}

/// <summary>
/// An API token. One made by a signed-in user carries that user's <see cref="StaffUser.Stamp"/> and
/// works only while that user exists, for the sites the user may still read; one made with the
/// admin token (<see cref="CreatorStamp"/> null) works until it is removed.
/// </summary>
internal sealed record ApiToken(string Name, string[] Sites, string CreatedBy, DateTimeOffset CreatedAt, string? CreatorStamp = null)
{
    /// <summary>Names the token in lists and in <c>DELETE /api/tokens/{id}</c>: the start of its hash, which reveals nothing of it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Id { get; init; } = "";
}

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

    /// <summary>
    /// Changes a user with <paramref name="change"/>, unless it was changed by someone else meanwhile
    /// (then it is read again and the change applied to that). Null when there is no such user — also
    /// when it was deleted meanwhile, or deleted and made again (a change meant for one person is
    /// never applied to another of the same name) — or when <paramref name="change"/> declines (null)
    /// the user as it finds it.
    /// </summary>
    public async Task<StaffUser?> UpdateUserAsync(string name, Func<StaffUser, StaffUser?> change)
    {
        string? stamp = null;
        for (var attempt = 0; ; attempt++)
        {
            var json = await Db.HashGetAsync(RedisKeys.Users, name);
            if (json.IsNull)
            {
                return null;
            }

            var user = JsonSerializer.Deserialize<StaffUser>(json.ToString(), JsonDefaults.Options)!;
            if (attempt > 0 && user.Stamp != stamp)
            {
                return null;
            }

            stamp = user.Stamp;
            if (change(user) is not { } changed)
            {
                return null;
            }

            var transaction = Db.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(RedisKeys.Users, name, json));
            _ = transaction.HashSetAsync(RedisKeys.Users, name, JsonSerializer.Serialize(changed, JsonDefaults.Options));
            if (await transaction.ExecuteAsync())
            {
                return changed;
            }

            if (attempt == 10)
            {
                throw new InvalidOperationException($"User '{name}' kept changing while it was being changed.");
            }
        }
    }

    /// <summary>Deletes the user and the API tokens they made (which stop working with them anyway).</summary>
    public async Task<bool> DeleteUserAsync(string name)
    {
        var user = await GetUserAsync(name);
        if (user is null || !await Db.HashDeleteAsync(RedisKeys.Users, name))
        {
            return false;
        }

        foreach (var (hash, token) in await ReadTokensAsync())
        {
            if (token.CreatorStamp is not null && token.CreatedBy == name && token.CreatorStamp == user.Stamp)
            {
                await Db.HashDeleteAsync(RedisKeys.Tokens, hash);
            }
        }

        return true;
    }

    /// <summary>Takes a deleted site out of every user's and token's sites.</summary>
    public async Task ForgetSiteAsync(string site)
    {
        // Each user changed as a PATCH would be: never over a change made meanwhile, never bringing a
        // deleted user back.
        foreach (var user in await ListUsersAsync())
        {
            if (user.Sites.Contains(site, StringComparer.Ordinal))
            {
                await UpdateUserAsync(user.Name, current => current with { Sites = [.. current.Sites.Where(s => s != site)] });
            }
        }

        // A token is only ever changed here; one removed meanwhile stays removed.
        foreach (var entry in await Db.HashGetAllAsync(RedisKeys.Tokens))
        {
            var token = ReadToken(entry.Name.ToString(), entry.Value);
            if (token.Sites.Contains(site, StringComparer.Ordinal))
            {
                var transaction = Db.CreateTransaction();
                transaction.AddCondition(Condition.HashEqual(RedisKeys.Tokens, entry.Name, entry.Value));
                _ = transaction.HashSetAsync(RedisKeys.Tokens, entry.Name, JsonSerializer.Serialize(token with { Sites = [.. token.Sites.Where(s => s != site)] }, JsonDefaults.Options));
                await transaction.ExecuteAsync();
            }
        }
    }

    /// <summary>Creates a token and returns it with its id; only its hash is stored, so this is the one time it is seen.</summary>
    public async Task<(string Secret, string Id)> CreateTokenAsync(ApiToken token)
    {
        var secret = Secrets.New("at_");
        var hash = Secrets.Hash(secret);
        await Db.HashSetAsync(RedisKeys.Tokens, hash, JsonSerializer.Serialize(token, JsonDefaults.Options));
        return (secret, TokenId(hash));
    }

    public async Task<ApiToken?> FindTokenAsync(string secret)
    {
        var hash = Secrets.Hash(secret);
        var json = await Db.HashGetAsync(RedisKeys.Tokens, hash);
        return json.IsNull ? null : ReadToken(hash, json);
    }

    public async Task<IReadOnlyList<ApiToken>> ListTokensAsync() =>
        [.. (await ReadTokensAsync()).Select(t => t.Token).OrderBy(t => t.CreatedAt)];

    /// <summary>Removes the token with this id when <paramref name="may"/> allows it; false when there is none (or it may not).</summary>
    public async Task<bool> DeleteTokenAsync(string id, Func<ApiToken, bool>? may = null)
    {
        if (id.Length != TokenIdLength)
        {
            return false;
        }

        var found = (await ReadTokensAsync()).FirstOrDefault(t => t.Token.Id == id);
        return found.Hash is not null && (may?.Invoke(found.Token) ?? true) && await Db.HashDeleteAsync(RedisKeys.Tokens, found.Hash);
    }

    /// <summary>Every token with the hash it is stored under.</summary>
    private async Task<IReadOnlyList<(string Hash, ApiToken Token)>> ReadTokensAsync() =>
        [.. (await Db.HashGetAllAsync(RedisKeys.Tokens)).Select(e => (e.Name.ToString(), ReadToken(e.Name.ToString(), e.Value)))];

    private const int TokenIdLength = 16;

    private static string TokenId(string hash) => hash[..TokenIdLength];

    private static ApiToken ReadToken(string hash, RedisValue json) =>
        JsonSerializer.Deserialize<ApiToken>(json.ToString(), JsonDefaults.Options)! with { Id = TokenId(hash) };

    public async Task<string> CreateSessionAsync(StaffUser user)
    {
        var secret = Secrets.New("s_");
        // The third part only once the password was changed: nodes of an older version (rolling
        // upgrade) read "name\nstamp" and would refuse anything longer.
        var value = user.SessionStamp is null ? $"{user.Name}\n{user.Stamp}" : $"{user.Name}\n{user.Stamp}\n{user.SessionStamp}";
        await Db.StringSetAsync(RedisKeys.Session(Secrets.Hash(secret)), value, SessionLifetime);
        return secret;
    }

    /// <summary>
    /// The signed-in user of a session cookie; a deleted user's sessions stop working at once, and
    /// do not work for a new user of the same name; nor do sessions from before a password change.
    /// </summary>
    public async Task<StaffUser?> FindSessionUserAsync(string secret)
    {
        var value = await Db.StringGetAsync(RedisKeys.Session(Secrets.Hash(secret)));
        if (value.IsNull)
        {
            return null;
        }

        var parts = value.ToString().Split('\n', 3);
        var user = await GetUserAsync(parts[0]);
        return user is not null
            && (user.Stamp ?? "") == (parts.Length > 1 ? parts[1] : "")
            && (user.SessionStamp ?? "") == (parts.Length > 2 ? parts[2] : "")
                ? user
                : null;
    }

    public Task DeleteSessionAsync(string secret) => Db.KeyDeleteAsync(RedisKeys.Session(Secrets.Hash(secret)));

    public DateTimeOffset Now => time.GetUtcNow();
}

using Analytics.Staff;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Staff;

/// <summary>Changes of users racing with other changes, against the real Redis.</summary>
public sealed class StaffStoreTests(Servers servers)
{
    private StaffStore Store => new(servers.Redis, TimeProvider.System);

    private static string NewName() => "store-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task AChangeRacingAnotherIsAppliedOnTopOfIt()
    {
        var store = Store;
        var name = NewName();
        Assert.True(await store.CreateUserAsync(StaffUser.New(name, "hash", Roles.Viewer, ["a"], store.Now)));
        var calls = 0;

        var changed = await store.UpdateUserAsync(name, user =>
        {
            if (calls++ == 0)
            {
                // Someone else changes the user between this change's read and its write.
                store.UpdateUserAsync(name, u => u with { Sites = ["a", "b"] }).GetAwaiter().GetResult();
            }

            return user with { Role = Roles.Admin };
        });

        Assert.Equal(2, calls);
        Assert.Equal(Roles.Admin, changed!.Role);
        Assert.Equal(["a", "b"], changed.Sites);
        var stored = await store.GetUserAsync(name);
        Assert.Equal(Roles.Admin, stored!.Role);
        Assert.Equal(["a", "b"], stored.Sites);
    }

    [Fact]
    public async Task AChangeNeverBringsBackADeletedUserNorLandsOnANewOneOfTheSameName()
    {
        var store = Store;
        var deleted = NewName();
        Assert.True(await store.CreateUserAsync(StaffUser.New(deleted, "hash", Roles.Viewer, [], store.Now)));
        var gone = await store.UpdateUserAsync(deleted, user =>
        {
            store.DeleteUserAsync(deleted).GetAwaiter().GetResult();
            return user with { Role = Roles.Admin };
        });
        Assert.Null(gone);
        Assert.Null(await store.GetUserAsync(deleted));

        var remade = NewName();
        Assert.True(await store.CreateUserAsync(StaffUser.New(remade, "hash", Roles.Viewer, [], store.Now)));
        var first = true;
        var other = await store.UpdateUserAsync(remade, user =>
        {
            if (first)
            {
                first = false;
                store.DeleteUserAsync(remade).GetAwaiter().GetResult();
                store.CreateUserAsync(StaffUser.New(remade, "other hash", Roles.Viewer, [], store.Now)).GetAwaiter().GetResult();
            }

            return user with { Role = Roles.Admin };
        });
        Assert.Null(other);
        var newcomer = await store.GetUserAsync(remade);
        Assert.Equal(Roles.Viewer, newcomer!.Role);
        Assert.Equal("other hash", newcomer.PasswordHash);
    }

    [Fact]
    public async Task ANewPasswordEndsSessionsAndOldStyleSessionsStillWorkUntilThen()
    {
        var store = Store;
        var name = NewName();
        var user = StaffUser.New(name, "hash", Roles.Viewer, [], store.Now);
        Assert.True(await store.CreateUserAsync(user));
        var session = await store.CreateSessionAsync(user);
        // A session written by a node of the version before password changes: "name\nstamp".
        var oldStyle = "s_old-" + Guid.NewGuid().ToString("N");
        await servers.Redis.GetDatabase().StringSetAsync(Analytics.Counting.RedisKeys.Session(Analytics.Infrastructure.Secrets.Hash(oldStyle)), $"{name}\n{user.Stamp}");
        Assert.NotNull(await store.FindSessionUserAsync(session));
        Assert.NotNull(await store.FindSessionUserAsync(oldStyle));
        // Until a password change, sessions are stored as older nodes read them.
        Assert.Equal($"{name}\n{user.Stamp}", (string?)await servers.Redis.GetDatabase().StringGetAsync(Analytics.Counting.RedisKeys.Session(Analytics.Infrastructure.Secrets.Hash(session))));

        var changed = await store.UpdateUserAsync(name, u => u.Changed("new hash", null, null));
        Assert.NotNull(changed!.SessionStamp);
        Assert.Null(await store.FindSessionUserAsync(session));
        Assert.Null(await store.FindSessionUserAsync(oldStyle));
        Assert.NotNull(await store.FindSessionUserAsync(await store.CreateSessionAsync(changed)));

        // Sites or role alone end nothing.
        var newer = await store.CreateSessionAsync(changed);
        await store.UpdateUserAsync(name, u => u.Changed(null, Roles.Admin, ["x"]));
        Assert.NotNull(await store.FindSessionUserAsync(newer));
    }
}

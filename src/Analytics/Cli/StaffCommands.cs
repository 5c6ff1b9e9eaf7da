using System.CommandLine;
using Analytics.Sites;
using Analytics.Staff;

namespace Analytics.Cli;

/// <summary><c>analytics users add|list|remove</c> and <c>analytics tokens add|list|remove</c>, straight against Redis.</summary>
internal static class StaffCommands
{
    public static Command Users()
    {
        var users = new Command("users", "Add, list, change and remove staff users (dashboard logins).");

        var name = new Argument<string>("name") { Description = "Login name" };
        var password = new Option<string?>("--password") { Description = "Password (at least 8 characters); default: ANALYTICS_PASSWORD, else asked for" };
        var role = new Option<string>("--role") { Description = "admin (everything) or viewer (its sites only)", DefaultValueFactory = _ => Roles.Viewer };
        role.AcceptOnlyFromAmong(Roles.Admin, Roles.Viewer);
        var sites = new Option<string[]>("--site") { Description = "A site the user may see (repeat for more)", AllowMultipleArgumentsPerToken = true };
        var add = new Command("add", "Add a staff user.") { name, password, role, sites };
        add.SetAction(async (parse, _) =>
        {
            var secret = parse.GetValue(password) ?? Environment.GetEnvironmentVariable("ANALYTICS_PASSWORD") ?? ReadPassword();
            var (field, error) = UserRules.Check(parse.GetValue(name), secret, parse.GetValue(role)!);
            if (error is not null)
            {
                return SiteCommands.Fail($"{field}: {error}");
            }

            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            var siteIds = parse.GetValue(sites) ?? [];
            if (await MissingSiteAsync(host, siteIds) is { } missing)
            {
                return SiteCommands.Fail($"There is no site '{missing}'.");
            }

            var staff = host.Get<StaffStore>();
            if (!await staff.CreateUserAsync(StaffUser.New(parse.GetValue(name)!, Passwords.Hash(secret!), parse.GetValue(role)!, siteIds, staff.Now)))
            {
                return SiteCommands.Fail($"There is already a user '{parse.GetValue(name)}'.");
            }

            Console.WriteLine(parse.GetValue(role) == Roles.Admin
                ? $"Added admin {parse.GetValue(name)} (admins see every site)."
                : $"Added viewer {parse.GetValue(name)}{(siteIds.Length > 0 ? " for " + string.Join(", ", siteIds) : " (no sites yet)")}.");
            return 0;
        });
        users.Subcommands.Add(add);

        var list = new Command("list", "List staff users.");
        list.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            Console.WriteLine($"{"NAME",-24} {"ROLE",-8} SITES");
            foreach (var user in await host.Get<StaffStore>().ListUsersAsync())
            {
                Console.WriteLine($"{user.Name,-24} {user.Role,-8} {(user.Role == Roles.Admin ? "(all)" : string.Join(", ", user.Sites))}");
            }

            return 0;
        });
        users.Subcommands.Add(list);

        var updateName = new Argument<string>("name") { Description = "Login name" };
        var newPassword = new Option<string?>("--password")
        {
            Description = "A new password (at least 8 characters); without a value: ANALYTICS_PASSWORD, else asked for. Ends the user's sessions, keeps their tokens",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var newRole = new Option<string?>("--role") { Description = "A new role: admin or viewer" };
        newRole.AcceptOnlyFromAmong(Roles.Admin, Roles.Viewer);
        var newSites = new Option<string[]>("--site") { Description = "The sites the user may see, replacing the ones they had (repeat for more)", AllowMultipleArgumentsPerToken = true };
        var noSites = new Option<bool>("--no-sites") { Description = "Take every site away (a viewer then sees none)" };
        var update = new Command("update", "Change a staff user's password, role or sites (the rest stays).") { updateName, newPassword, newRole, newSites, noSites };
        update.SetAction(async (parse, _) =>
        {
            // --password alone: from the environment or the terminal, never the command line.
            var passwordAsked = parse.GetResult(newPassword) is not null;
            var password = passwordAsked ? parse.GetValue(newPassword) ?? Environment.GetEnvironmentVariable("ANALYTICS_PASSWORD") ?? ReadPassword() : null;
            if (passwordAsked && password is null)
            {
                return SiteCommands.Fail("No password given: pass it after --password, in ANALYTICS_PASSWORD, or type it when asked.");
            }

            if (parse.GetValue(noSites) && parse.GetValue(newSites) is { Length: > 0 })
            {
                return SiteCommands.Fail("--site and --no-sites contradict each other: give one of them.");
            }

            var (role, siteIds) = (parse.GetValue(newRole), parse.GetValue(noSites) ? [] : parse.GetValue(newSites) is { Length: > 0 } given ? given : null);
            if ((password, role, siteIds) is (null, null, null))
            {
                return SiteCommands.Fail("Say what to change: --password, --role, --site or --no-sites.");
            }

            var (field, error) = UserRules.CheckChange(password, role);
            if (error is not null)
            {
                return SiteCommands.Fail($"{field}: {error}");
            }

            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            if (siteIds is not null && await MissingSiteAsync(host, siteIds) is { } missing)
            {
                return SiteCommands.Fail($"There is no site '{missing}'.");
            }

            var passwordHash = password is null ? null : Passwords.Hash(password);
            var user = await host.Get<StaffStore>().UpdateUserAsync(parse.GetValue(updateName)!, user => user.Changed(passwordHash, role, siteIds));
            if (user is null)
            {
                return SiteCommands.Fail($"There is no user '{parse.GetValue(updateName)}'.");
            }

            Console.WriteLine($"Changed {user.Name}: {user.Role}, {(user.Role == Roles.Admin ? "every site" : user.Sites.Length > 0 ? string.Join(", ", user.Sites) : "no sites")}{(passwordHash is null ? "" : "; new password, their sessions ended")}.");
            return 0;
        });
        users.Subcommands.Add(update);

        var removeName = new Argument<string>("name") { Description = "Login name" };
        var remove = new Command("remove", "Remove a staff user (their sessions end at once).") { removeName };
        remove.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            if (!await host.Get<StaffStore>().DeleteUserAsync(parse.GetValue(removeName)!))
            {
                return SiteCommands.Fail($"There is no user '{parse.GetValue(removeName)}'.");
            }

            Console.WriteLine($"Removed {parse.GetValue(removeName)}.");
            return 0;
        });
        users.Subcommands.Add(remove);
        return users;
    }

    public static Command Tokens()
    {
        var tokens = new Command("tokens", "API tokens for reads and exports.");
        var name = new Argument<string>("name") { Description = "What the token is for" };
        var sites = new Option<string[]>("--site") { Description = "A site the token may read (repeat for more)", Required = true, AllowMultipleArgumentsPerToken = true };
        var add = new Command("add", "Create an API token and print it (shown only once).") { name, sites };
        add.SetAction(async (parse, _) =>
        {
            if (!UserRules.IsTokenName(parse.GetValue(name)))
            {
                return SiteCommands.Fail(UserRules.TokenNameRule);
            }

            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            var siteIds = parse.GetValue(sites)!;
            if (await MissingSiteAsync(host, siteIds) is { } missing)
            {
                return SiteCommands.Fail($"There is no site '{missing}'.");
            }

            var staff = host.Get<StaffStore>();
            var (secret, id) = await staff.CreateTokenAsync(new ApiToken(parse.GetValue(name)!, siteIds, "cli", staff.Now));
            // The token alone on stdout, for scripts; its id (to remove it later) on stderr.
            Console.WriteLine(secret);
            Console.Error.WriteLine($"Token id: {id} (analytics tokens remove {id})");
            return 0;
        });
        tokens.Subcommands.Add(add);

        var list = new Command("list", "List the API tokens (never the tokens themselves: their ids, names and sites).");
        list.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            Console.WriteLine($"{"ID",-16}  {"NAME",-24} {"MADE BY",-16} {"CREATED",-20} SITES");
            foreach (var token in await host.Get<StaffStore>().ListTokensAsync())
            {
                Console.WriteLine($"{token.Id,-16}  {token.Name,-24} {token.CreatedBy,-16} {token.CreatedAt.UtcDateTime,-20:yyyy-MM-dd HH:mm} {string.Join(", ", token.Sites)}");
            }

            return 0;
        });
        tokens.Subcommands.Add(list);

        var id = new Argument<string>("id") { Description = "The token's id (from 'tokens list')" };
        var remove = new Command("remove", "Revoke an API token; it stops working at once.") { id };
        remove.SetAction(async (parse, _) =>
        {
            await using var host = CliHost.Create(parse.GetValue(AnalyticsCommand.RedisOption));
            if (!await host.Get<StaffStore>().DeleteTokenAsync(parse.GetValue(id)!))
            {
                return SiteCommands.Fail($"There is no token '{parse.GetValue(id)}'.");
            }

            Console.WriteLine($"Removed token {parse.GetValue(id)}.");
            return 0;
        });
        tokens.Subcommands.Add(remove);
        return tokens;
    }

    private static async Task<string?> MissingSiteAsync(CliHost host, string[] siteIds)
    {
        foreach (var id in siteIds)
        {
            if (await host.Get<SiteStore>().GetAsync(id) is null)
            {
                return id;
            }
        }

        return null;
    }

    private static string? ReadPassword()
    {
        if (Console.IsInputRedirected)
        {
            return Console.ReadLine();
        }

        Console.Write("Password: ");
        var password = new System.Text.StringBuilder();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace && password.Length > 0)
            {
                password.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }

        Console.WriteLine();
        return password.ToString();
    }
}

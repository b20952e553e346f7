//! msgscan: find and judge messaging patterns in Python, JavaScript, TypeScript and SQL
